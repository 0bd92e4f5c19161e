#include "common/client_channel.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/client_interceptor.h"

namespace easel {
namespace {

// Adds the authorization header to every call. Call credentials would do this only over TLS;
// the coordinator also serves plain gRPC on trusted networks.
class BearerTokenInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit BearerTokenInterceptor(const std::string& header) : header_(header) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", header_});
    }
    methods->Proceed();
  }

 private:
  const std::string& header_;
};

class BearerTokenInterceptorFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerTokenInterceptorFactory(std::string token)
      : header_(absl::StrCat("Bearer ", token)) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* /*info*/) override {
    return new BearerTokenInterceptor(header_);
  }

 private:
  std::string header_;
};

std::string Environment(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

}  // namespace

ClientOptions ClientOptionsFromEnvironment() {
  ClientOptions options;
  options.token = std::string(absl::StripAsciiWhitespace(Environment("EASEL_API_TOKEN")));
  options.tls_ca_file = Environment("EASEL_TLS_CA");
  return options;
}

absl::StatusOr<std::string> ReadTokenFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  std::string token(absl::StripAsciiWhitespace(line));
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("token file ", path.string(), " is missing, unreadable or empty"));
  }
  return token;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateClientChannel(std::string_view address,
                                                                   const ClientOptions& options) {
  return CreateClientChannel(address, options, grpc::ChannelArguments());
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateClientChannel(
    std::string_view address, const ClientOptions& options,
    const grpc::ChannelArguments& arguments) {
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!options.tls_ca_file.empty()) {
    std::ifstream in(options.tls_ca_file);
    std::stringstream pem;
    pem << in.rdbuf();
    if (!in || pem.str().find("-----BEGIN CERTIFICATE") == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("cannot read CA certificates from ",
                                                     options.tls_ca_file.string(),
                                                     " (PEM expected; EASEL_TLS_CA)"));
    }
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = pem.str();
    credentials = grpc::SslCredentials(ssl);
  }
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  if (!options.token.empty()) {
    interceptors.push_back(std::make_unique<BearerTokenInterceptorFactory>(options.token));
  }
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      std::string(address), credentials, arguments, std::move(interceptors));
}

}  // namespace easel
