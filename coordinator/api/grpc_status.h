#ifndef EASEL_COORDINATOR_API_GRPC_STATUS_H_
#define EASEL_COORDINATOR_API_GRPC_STATUS_H_

#include <exception>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/support/status.h"

namespace easel::coordinator {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// Runs a handler body (returning absl::Status) so that no exception escapes it.
template <typename Fn>
grpc::Status HandleRpc(Fn&& body) {
  try {
    return ToGrpcStatus(body());
  } catch (const std::exception& e) {
    return grpc::Status(grpc::StatusCode::INTERNAL, absl::StrCat("internal error: ", e.what()));
  } catch (...) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "internal error");
  }
}

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_API_GRPC_STATUS_H_
