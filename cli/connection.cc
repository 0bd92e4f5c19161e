#include "cli/connection.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "cli/config.h"

namespace easel::cli {

std::string DefaultHost(const std::string& configured) {
  const char* host = std::getenv("EASEL_HOST");
  if (host != nullptr && *host != '\0') return host;
  return configured.empty() ? "127.0.0.1:7500" : configured;
}

absl::StatusOr<Connection> Connection::Open(const CommandContext& command) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      CreateClientChannel(command.host, command.client);
  if (!channel.ok()) return channel.status();
  return Connection(command.host, *std::move(channel));
}

Connection::Connection(std::string host, std::shared_ptr<grpc::Channel> channel)
    : host_(std::move(host)), channel_(std::move(channel)) {
  datasets_ = easel::v1::DatasetService::NewStub(channel_);
  models_ = easel::v1::ModelService::NewStub(channel_);
  trainings_ = easel::v1::TrainingService::NewStub(channel_);
  tokens_ = easel::v1::TokenService::NewStub(channel_);
}

absl::Status Connection::Check(const grpc::Status& status, const std::string& what) const {
  if (status.ok()) return absl::OkStatus();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return absl::UnavailableError(absl::StrCat(
        "cannot reach the Easel coordinator at ", host_, " (", status.error_message(),
        "); is easel-coordinator running? Set --host, EASEL_HOST or host in ",
        ConfigPath().string()));
  }
  if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    return absl::UnauthenticatedError(absl::StrCat(
        what, ": ", status.error_message(),
        ". Set EASEL_API_TOKEN (or token in ", ConfigPath().string(),
        ") to a token of this coordinator (an admin finds the first one in "
        "DATA_DIR/admin-token and creates more with `easel tokens create`)"));
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
}

}  // namespace easel::cli
