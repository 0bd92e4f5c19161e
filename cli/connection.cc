#include "cli/connection.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace easel::cli {

std::string DefaultHost() {
  const char* host = std::getenv("EASEL_HOST");
  return host != nullptr && *host != '\0' ? host : "127.0.0.1:7500";
}

Connection::Connection(std::string host) : host_(std::move(host)) {
  channel_ = grpc::CreateChannel(host_, grpc::InsecureChannelCredentials());
  datasets_ = easel::v1::DatasetService::NewStub(channel_);
  models_ = easel::v1::ModelService::NewStub(channel_);
  trainings_ = easel::v1::TrainingService::NewStub(channel_);
}

absl::Status Connection::Check(const grpc::Status& status, const std::string& what) const {
  if (status.ok()) return absl::OkStatus();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return absl::UnavailableError(absl::StrCat(
        "cannot reach the Easel coordinator at ", host_, " (", status.error_message(),
        "); is easel-coordinator running? Set --host or EASEL_HOST"));
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
}

}  // namespace easel::cli
