// easel-coordinator: the control plane. Prints one JSON line once it listens.
#include <pthread.h>
#include <signal.h>

#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/time/time.h"
#include "absl/strings/str_cat.h"
#include "coordinator/log.h"
#include "coordinator/server.h"
#include "nlohmann/json.hpp"

int main(int argc, char** argv) {
  easel::CoordinatorOptions options;
  std::string data_dir;
  double lease_seconds = 60;
  CLI::App app{
      "Easel coordinator: the gRPC API, the store and the task scheduler.\n\n"
      "Example:\n  easel-coordinator --data-dir /var/lib/easel --listen 127.0.0.1:7500\n"};
  app.add_option("--data-dir", data_dir, "Directory holding easel.db, blobs/ and uploads/")
      ->required();
  app.add_option("--listen", options.listen_address,
                 "Address to serve gRPC on; port 0 lets the OS pick one")
      ->capture_default_str();
  app.add_option("--lease-seconds", lease_seconds, "How long a task lease lasts without a heartbeat")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--max-attempts", options.max_attempts,
                 "Attempts of a task that crashes before its training fails")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  double retry_backoff_seconds = 5;
  app.add_option("--retry-backoff-seconds", retry_backoff_seconds,
                 "How long a retried task waits after its first failed attempt; doubled after "
                 "each further one, at most 300 s")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 300.0));
  std::string auth = "tokens";
  app.add_option("--auth", auth,
                 "tokens: every call needs an API token (the first admin token is written to "
                 "DATA_DIR/admin-token; easel tokens creates more). none: no checks, every "
                 "caller is an admin; only for a trusted single-user host")
      ->capture_default_str()
      ->check(CLI::IsMember({"tokens", "none"}));
  std::string tls_cert, tls_key;
  app.add_option("--tls-cert", tls_cert, "PEM certificate chain: serve gRPC over TLS")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-key", tls_key, "PEM private key of --tls-cert")->check(CLI::ExistingFile);
  app.add_option("--http-listen", options.http_listen_address,
                 "Address to serve the Replicate-compatible HTTP API (/v1) on; port 0 lets the "
                 "OS pick one; empty turns it off")
      ->capture_default_str();
  app.add_option("--public-url", options.public_url,
                 "URL clients reach the HTTP API at, used in the URLs of responses and webhooks "
                 "(default: http:// + the --http-listen address)");
  app.add_option("--allow-input-url", options.allowed_input_url_prefixes,
                 "A URL prefix (e.g. https://datasets.example.com/) whose files input_images may "
                 "name; the coordinator fetches them. Repeatable. Other URLs are refused");
  CLI11_PARSE(app, argc, argv);
  options.require_tokens = auth == "tokens";
  options.tls_cert_file = tls_cert;
  options.tls_key_file = tls_key;
  options.data_dir = data_dir;
  options.lease_duration = absl::Seconds(lease_seconds);
  options.retry_backoff = absl::Seconds(retry_backoff_seconds);

  // Block the termination signals in every thread; the main thread waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = easel::CoordinatorServer::Start(options);
  if (!server.ok()) {
    std::cerr << "easel-coordinator: " << server.status().message() << "\n";
    return 1;
  }
  std::cout << nlohmann::ordered_json{{"event", "listening"},
                                      {"address", (*server)->address()},
                                      {"http_url", (*server)->http_base_url()}}
                   .dump()
            << std::endl;
  easel::coordinator::LogInfo(
      absl::StrCat("serving on ", (*server)->address(), tls_cert.empty() ? "" : " over TLS",
                   ", data in ", data_dir));
  if ((*server)->http_port() != 0) {
    easel::coordinator::LogInfo(absl::StrCat("HTTP API at ", (*server)->http_base_url(), "/v1"));
  }
  easel::coordinator::LogInfo(
      options.require_tokens
          ? absl::StrCat("calls need an API token; the admin token is in ",
                         easel::AdminTokenPath(options.data_dir).string())
          : "WARNING: --auth=none: every caller is an admin");

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  easel::coordinator::LogInfo(absl::StrCat("received signal ", signal_number, "; shutting down"));
  (*server)->Shutdown();
  (*server)->Wait();
  easel::coordinator::LogInfo("stopped");
  return 0;
}
