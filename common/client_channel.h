#ifndef EASEL_COMMON_CLIENT_CHANNEL_H_
#define EASEL_COMMON_CLIENT_CHANNEL_H_

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "grpcpp/support/channel_arguments.h"

namespace easel {

// How a client (the easel command, easel-worker, tests) reaches the coordinator.
struct ClientOptions {
  std::string token;  // sent on every call as "authorization: Bearer TOKEN"; empty: none
  std::filesystem::path tls_ca_file;  // set: TLS, trusting the certificates in this PEM file
};

// EASEL_API_TOKEN and EASEL_TLS_CA.
ClientOptions ClientOptionsFromEnvironment();

// A token file's first line; INVALID_ARGUMENT naming the file when it is unreadable or empty.
absl::StatusOr<std::string> ReadTokenFile(const std::filesystem::path& path);

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateClientChannel(std::string_view address,
                                                                   const ClientOptions& options);
// The same, with channel arguments (distinct arguments give distinct connections).
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateClientChannel(
    std::string_view address, const ClientOptions& options,
    const grpc::ChannelArguments& arguments);

}  // namespace easel

#endif  // EASEL_COMMON_CLIENT_CHANNEL_H_
