#include "coordinator/server.h"

#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "coordinator/api/dataset_service.h"
#include "coordinator/api/http/http_api.h"
#include "coordinator/api/http/replicate_json.h"
#include "coordinator/api/token_service.h"
#include "coordinator/api/model_service.h"
#include "coordinator/api/training_service.h"
#include "coordinator/api/worker_service.h"
#include "coordinator/auth/authenticator.h"
#include "coordinator/auth/token_store.h"
#include "coordinator/blobs/blob_store.h"
#include "coordinator/blobs/file_store.h"
#include "coordinator/blobs/upload_store.h"
#include "coordinator/registry/dataset_registry.h"
#include "coordinator/registry/model_registry.h"
#include "coordinator/scheduler/lease_expirer.h"
#include "coordinator/scheduler/notifier.h"
#include "coordinator/scheduler/task_queue.h"
#include "coordinator/scheduler/training_store.h"
#include "coordinator/store/database.h"
#include "coordinator/webhooks/webhook_dispatcher.h"
#include "coordinator/webhooks/webhook_store.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"

namespace easel {

using namespace coordinator;  // NOLINT: the server wires the coordinator's parts together.

struct CoordinatorServer::Parts {
  std::unique_ptr<Database> database;
  std::unique_ptr<BlobStore> blobs;
  std::unique_ptr<TokenStore> tokens;
  std::unique_ptr<Authenticator> auth;
  Notifiers notifiers;
  LeaseCache leases;
  std::unique_ptr<ModelRegistry> models;
  std::unique_ptr<DatasetRegistry> datasets;
  std::unique_ptr<UploadStore> uploads;
  std::unique_ptr<TrainingStore> trainings;
  std::unique_ptr<TaskQueue> queue;
  std::unique_ptr<DatasetServiceImpl> dataset_service;
  std::unique_ptr<ModelServiceImpl> model_service;
  std::unique_ptr<TrainingServiceImpl> training_service;
  std::unique_ptr<WorkerServiceImpl> worker_service;
  std::unique_ptr<TokenServiceImpl> token_service;
  std::unique_ptr<LeaseExpirer> expirer;
  std::unique_ptr<FileStore> files;
  std::unique_ptr<WebhookStore> webhooks;
  std::unique_ptr<HttpApi> http;
  std::unique_ptr<WebhookDispatcher> webhook_dispatcher;
};

namespace {

absl::StatusOr<std::string> ReadPemFile(const std::filesystem::path& path, const char* what) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in || text.str().find("-----BEGIN") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the TLS ", what, " from ", path.string(), " (PEM expected)"));
  }
  return text.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const CoordinatorOptions& options) {
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("TLS needs both a certificate and a private key file");
  }
  if (options.tls_cert_file.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  EASEL_ASSIGN_OR_RETURN(pair.cert_chain, ReadPemFile(options.tls_cert_file, "certificate"));
  EASEL_ASSIGN_OR_RETURN(pair.private_key, ReadPemFile(options.tls_key_file, "private key"));
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

std::filesystem::path AdminTokenPath(const std::filesystem::path& data_dir) {
  return data_dir / "admin-token";
}

CoordinatorServer::CoordinatorServer(const CoordinatorOptions& options)
    : options_(options), parts_(std::make_unique<Parts>()) {}

absl::StatusOr<std::unique_ptr<CoordinatorServer>> CoordinatorServer::Start(
    const CoordinatorOptions& options) {
  if (options.data_dir.empty()) return absl::InvalidArgumentError("data_dir is required");
  if (options.lease_duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("lease_duration must be positive");
  }
  if (options.max_attempts < 1) return absl::InvalidArgumentError("max_attempts must be >= 1");
  std::error_code error;
  std::filesystem::create_directories(options.data_dir, error);
  if (error) {
    return absl::UnavailableError(absl::StrCat("cannot create data directory ",
                                               options.data_dir.string(), ": ", error.message()));
  }
  std::unique_ptr<CoordinatorServer> server(new CoordinatorServer(options));
  Parts& parts = *server->parts_;
  EASEL_ASSIGN_OR_RETURN(parts.database, Database::Open(options.data_dir / "easel.db"));
  EASEL_ASSIGN_OR_RETURN(parts.blobs, BlobStore::Open(options.data_dir));
  EASEL_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                         ServerCredentials(options));
  parts.tokens = std::make_unique<TokenStore>(*parts.database);
  if (options.require_tokens) {
    EASEL_RETURN_IF_ERROR(parts.tokens->EnsureAdminTokenFile(AdminTokenPath(options.data_dir)));
  }
  parts.auth = std::make_unique<Authenticator>(options.require_tokens ? parts.tokens.get() : nullptr);
  parts.models = std::make_unique<ModelRegistry>(*parts.database);
  parts.datasets = std::make_unique<DatasetRegistry>(*parts.database);
  parts.uploads =
      std::make_unique<UploadStore>(*parts.database, *parts.blobs, options.data_dir / "uploads");
  parts.trainings = std::make_unique<TrainingStore>(*parts.database, *parts.blobs, parts.notifiers,
                                                    parts.leases);
  parts.queue = std::make_unique<TaskQueue>(
      *parts.database, *parts.blobs, parts.notifiers, parts.leases,
      TaskQueueOptions{.lease_duration = options.lease_duration,
                       .max_attempts = options.max_attempts,
                       .retry_backoff = options.retry_backoff});
  Authenticator& auth = *parts.auth;
  parts.dataset_service =
      std::make_unique<DatasetServiceImpl>(auth, *parts.uploads, *parts.datasets);
  parts.model_service = std::make_unique<ModelServiceImpl>(auth, *parts.models, *parts.blobs);
  parts.training_service = std::make_unique<TrainingServiceImpl>(
      auth, *parts.trainings, *parts.models, *parts.datasets, parts.notifiers.events);
  parts.worker_service = std::make_unique<WorkerServiceImpl>(auth, *parts.queue, *parts.blobs);
  parts.token_service = std::make_unique<TokenServiceImpl>(auth, *parts.tokens);
  parts.files = std::make_unique<FileStore>(*parts.database, *parts.blobs);
  parts.webhooks = std::make_unique<WebhookStore>(*parts.database);
  std::string base_url = options.public_url;
  if (!options.http_listen_address.empty()) {
    EASEL_ASSIGN_OR_RETURN(
        parts.http,
        HttpApi::Bind(HttpApiOptions{.listen_address = options.http_listen_address,
                                     .public_url = options.public_url,
                                     .allowed_input_url_prefixes =
                                         options.allowed_input_url_prefixes},
                      HttpApiParts{.auth = auth,
                                   .model_service = *parts.model_service,
                                   .models = *parts.models,
                                   .training_service = *parts.training_service,
                                   .trainings = *parts.trainings,
                                   .files = *parts.files,
                                   .blobs = *parts.blobs,
                                   .webhooks = *parts.webhooks}));
    base_url = parts.http->base_url();
    parts.training_service->set_web_base_url(base_url);
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen_address, credentials, &server->port_);
  builder.SetMaxReceiveMessageSize(16 << 20);
  builder.RegisterService(parts.dataset_service.get());
  builder.RegisterService(parts.model_service.get());
  builder.RegisterService(parts.training_service.get());
  builder.RegisterService(parts.worker_service.get());
  builder.RegisterService(parts.token_service.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen_address,
                     "; is the address valid and the port free?"));
  }
  parts.expirer = std::make_unique<LeaseExpirer>(*parts.queue, parts.notifiers.leases);
  parts.webhook_dispatcher = std::make_unique<WebhookDispatcher>(
      *parts.database, *parts.webhooks, parts.notifiers.events,
      [base_url](const v1::Training& training) { return TrainingJson(training, base_url).dump(); });
  if (parts.http != nullptr) parts.http->Serve();
  return server;
}

CoordinatorServer::~CoordinatorServer() {
  Shutdown();
  Wait();
}

std::string CoordinatorServer::address() const {
  const std::string& listen = options_.listen_address;
  size_t colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? listen : listen.substr(0, colon);
  return absl::StrCat(host, ":", port_);
}

int CoordinatorServer::http_port() const {
  return parts_->http == nullptr ? 0 : parts_->http->port();
}

std::string CoordinatorServer::http_base_url() const {
  return parts_->http == nullptr ? "" : parts_->http->base_url();
}

void CoordinatorServer::Shutdown() {
  std::call_once(shutdown_once_, [this] {
    parts_->notifiers.ShutdownAll();
    if (parts_->http != nullptr) parts_->http->Stop();
    if (server_ != nullptr) server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    parts_->expirer.reset();
    parts_->webhook_dispatcher.reset();
  });
}

void CoordinatorServer::Wait() {
  if (server_ != nullptr) server_->Wait();
}

}  // namespace easel
