#ifndef EASEL_COORDINATOR_API_HTTP_HTTP_API_H_
#define EASEL_COORDINATOR_API_HTTP_HTTP_API_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "coordinator/api/http/input_images.h"
#include "coordinator/api/model_service.h"
#include "coordinator/api/training_service.h"
#include "coordinator/auth/authenticator.h"
#include "coordinator/blobs/blob_store.h"
#include "coordinator/blobs/file_store.h"
#include "coordinator/registry/model_registry.h"
#include "coordinator/scheduler/training_store.h"
#include "coordinator/webhooks/webhook_store.h"

namespace httplib {
class Server;
struct Request;
}  // namespace httplib

namespace easel::coordinator {

// What the HTTP API serves from: the same store, registries and auth as the gRPC API.
struct HttpApiParts {
  Authenticator& auth;
  ModelServiceImpl& model_service;
  ModelRegistry& models;
  TrainingServiceImpl& training_service;
  TrainingStore& trainings;
  FileStore& files;
  BlobStore& blobs;
  WebhookStore& webhooks;
};

struct HttpApiOptions {
  std::string listen_address = "127.0.0.1:0";  // HOST:PORT; port 0 lets the OS pick
  // The address clients reach the API at, used in the URLs responses carry; empty:
  // "http://" + the address it listens on.
  std::string public_url;
  // input_images URLs the coordinator may fetch (docs/http-api.md).
  std::vector<std::string> allowed_input_url_prefixes;
};

// Replicate's HTTP API (/v1: models, versions, trainings, files, webhook secret) on its own
// port, served by a thread pool. docs/http-api.md lists the routes and error statuses.
class HttpApi {
 public:
  // Binds the port; call Serve to answer requests.
  static absl::StatusOr<std::unique_ptr<HttpApi>> Bind(const HttpApiOptions& options,
                                                       HttpApiParts parts);
  ~HttpApi();  // stops serving

  int port() const { return port_; }
  const std::string& base_url() const { return base_url_; }
  void Serve();  // starts the serving thread
  void Stop();

 private:
  explicit HttpApi(HttpApiParts parts);
  void AddRoutes();
  // Who sent the request (its authorization header); workers may not use this API.
  absl::StatusOr<Principal> Caller(const httplib::Request& request);

  HttpApiParts parts_;
  std::unique_ptr<httplib::Server> server_;
  std::unique_ptr<InputImages> input_images_;
  std::string base_url_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> listen_ended_ = false;
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_API_HTTP_HTTP_API_H_
