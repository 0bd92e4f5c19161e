#ifndef EASEL_COORDINATOR_SERVER_H_
#define EASEL_COORDINATOR_SERVER_H_

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace easel {

struct CoordinatorOptions {
  std::filesystem::path data_dir;
  std::string listen_address = "127.0.0.1:0";
  absl::Duration lease_duration = absl::Seconds(60);
  int max_attempts = 3;
  absl::Duration retry_backoff = absl::Seconds(5);  // doubled per failed attempt, at most 5 min
  // Every call must carry a valid API token. Off: every caller is an admin (a trusted,
  // single-user host only).
  bool require_tokens = true;
  // Both set: gRPC is served over TLS with this certificate chain and private key (PEM).
  std::filesystem::path tls_cert_file;
  std::filesystem::path tls_key_file;
  // The Replicate-compatible HTTP API (docs/http-api.md): where it listens; empty: off.
  std::string http_listen_address = "127.0.0.1:0";
  // The URL clients reach the HTTP API at, for the URLs in responses and webhooks; empty:
  // "http://" + the address it listens on.
  std::string public_url;
  // input_images URLs (other than files uploaded here) the coordinator may fetch.
  std::vector<std::string> allowed_input_url_prefixes;
};

// Where the coordinator keeps the bootstrap admin token: DATA_DIR/admin-token.
std::filesystem::path AdminTokenPath(const std::filesystem::path& data_dir);

// The coordinator: store, blobs, scheduler and the gRPC services, serving on one port.
class CoordinatorServer {
 public:
  static absl::StatusOr<std::unique_ptr<CoordinatorServer>> Start(const CoordinatorOptions& options);
  ~CoordinatorServer();
  CoordinatorServer(const CoordinatorServer&) = delete;
  CoordinatorServer& operator=(const CoordinatorServer&) = delete;

  int port() const { return port_; }
  std::string address() const;
  // The HTTP API's port (0 when it is off) and the URL responses name it by.
  int http_port() const;
  std::string http_base_url() const;
  // Stops accepting calls, ends waiting calls and watches, and stops the lease expirer.
  void Shutdown();
  void Wait();

 private:
  struct Parts;
  explicit CoordinatorServer(const CoordinatorOptions& options);

  CoordinatorOptions options_;
  std::unique_ptr<Parts> parts_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::once_flag shutdown_once_;
};

}  // namespace easel

#endif  // EASEL_COORDINATOR_SERVER_H_
