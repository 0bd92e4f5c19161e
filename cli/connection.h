#ifndef EASEL_CLI_CONNECTION_H_
#define EASEL_CLI_CONNECTION_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cli/commands.h"
#include "easel/v1/datasets.grpc.pb.h"
#include "easel/v1/models.grpc.pb.h"
#include "easel/v1/tokens.grpc.pb.h"
#include "easel/v1/trainings.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace easel::cli {

// The coordinator the CLI talks to: --host, else $EASEL_HOST, else the config file's host,
// else 127.0.0.1:7500; with the token in $EASEL_API_TOKEN (else the config file's), over TLS
// when --tls-ca, $EASEL_TLS_CA or the config file's tls_ca names a CA file.
class Connection {
 public:
  static absl::StatusOr<Connection> Open(const CommandContext& command);
  const std::string& host() const { return host_; }
  easel::v1::DatasetService::Stub& datasets() { return *datasets_; }
  easel::v1::ModelService::Stub& models() { return *models_; }
  easel::v1::TrainingService::Stub& trainings() { return *trainings_; }
  easel::v1::TokenService::Stub& tokens() { return *tokens_; }

  // A gRPC status as an absl::Status whose message says what to do about it.
  absl::Status Check(const grpc::Status& status, const std::string& what) const;

 private:
  Connection(std::string host, std::shared_ptr<grpc::Channel> channel);

  std::string host_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<easel::v1::DatasetService::Stub> datasets_;
  std::unique_ptr<easel::v1::ModelService::Stub> models_;
  std::unique_ptr<easel::v1::TrainingService::Stub> trainings_;
  std::unique_ptr<easel::v1::TokenService::Stub> tokens_;
};

// $EASEL_HOST, else `configured` (the config file's), else 127.0.0.1:7500.
std::string DefaultHost(const std::string& configured);

}  // namespace easel::cli

#endif  // EASEL_CLI_CONNECTION_H_
