#ifndef EASEL_COORDINATOR_AUTH_AUTHENTICATOR_H_
#define EASEL_COORDINATOR_AUTH_AUTHENTICATOR_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "coordinator/auth/principal.h"
#include "coordinator/auth/token_store.h"

namespace grpc {
class ServerContext;
}  // namespace grpc

namespace easel::coordinator {

// Who a call comes from, by its "authorization: Bearer TOKEN" (or "Token TOKEN") header.
// Without a token store (auth turned off) every caller is an admin.
class Authenticator {
 public:
  explicit Authenticator(TokenStore* tokens) : tokens_(tokens) {}

  // Users and admins: the public API. PERMISSION_DENIED for worker tokens.
  absl::StatusOr<Principal> User(const grpc::ServerContext& context);
  // Workers and admins: the worker API.
  absl::StatusOr<Principal> Worker(const grpc::ServerContext& context);
  absl::StatusOr<Principal> Admin(const grpc::ServerContext& context);

  // An authorization header's value; UNAUTHENTICATED when it is missing or invalid.
  absl::StatusOr<Principal> FromHeader(std::string_view authorization);

 private:
  absl::StatusOr<Principal> FromContext(const grpc::ServerContext& context);

  TokenStore* tokens_;
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_AUTH_AUTHENTICATOR_H_
