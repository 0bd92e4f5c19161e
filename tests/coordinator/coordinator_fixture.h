#ifndef EASEL_TESTS_COORDINATOR_COORDINATOR_FIXTURE_H_
#define EASEL_TESTS_COORDINATOR_COORDINATOR_FIXTURE_H_

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/client_channel.h"
#include "common/sha256.h"
#include "coordinator/server.h"
#include "easel/v1/datasets.grpc.pb.h"
#include "easel/v1/models.grpc.pb.h"
#include "easel/v1/tokens.grpc.pb.h"
#include "easel/v1/trainings.grpc.pb.h"
#include "easel/v1/worker.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"

namespace easel::testing {

inline std::filesystem::path MakeTempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "easel-coord-XXXXXX").string();
  char* made = mkdtemp(pattern.data());
  EXPECT_NE(made, nullptr);
  return pattern;
}

// Bytes that start with the zip local-file magic.
inline std::string ZipLikeBytes(size_t size, char fill = 'z') {
  std::string bytes = std::string("PK\x03\x04", 4) + std::string(size, fill);
  return bytes;
}

// A real coordinator on a loopback port, with a stub for every service.
class CoordinatorTest : public ::testing::Test {
 protected:
  virtual absl::Duration LeaseDuration() const { return absl::Seconds(60); }
  // No back-off unless a test asks for one: retried tasks are leased again at once.
  virtual absl::Duration RetryBackoff() const { return absl::ZeroDuration(); }
  virtual void ConfigureServer(CoordinatorOptions& /*options*/) {}

  void SetUp() override {
    data_dir_ = MakeTempDir();
    StartServer();
  }

  void TearDown() override {
    server_.reset();
    std::error_code error;
    std::filesystem::remove_all(data_dir_, error);
  }

  void StartServer() {
    CoordinatorOptions options;
    options.data_dir = data_dir_ / "data";
    options.lease_duration = LeaseDuration();
    options.retry_backoff = RetryBackoff();
    ConfigureServer(options);
    auto server = CoordinatorServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    if (options.require_tokens) {
      auto admin_token = ReadTokenFile(AdminTokenPath(options.data_dir));
      ASSERT_TRUE(admin_token.ok()) << admin_token.status();
      admin_token_ = *admin_token;
    }
    auto channel = Channel(admin_token_);
    datasets_ = v1::DatasetService::NewStub(channel);
    models_ = v1::ModelService::NewStub(channel);
    trainings_ = v1::TrainingService::NewStub(channel);
    workers_ = v1::WorkerService::NewStub(channel);
    tokens_ = v1::TokenService::NewStub(channel);
  }

  // A channel to the coordinator whose calls carry `token` (none when empty).
  std::shared_ptr<grpc::Channel> Channel(const std::string& token) {
    auto channel = CreateClientChannel(server_->address(), ClientOptions{.token = token});
    EXPECT_TRUE(channel.ok()) << channel.status();
    return *channel;
  }

  // A new token's secret, created with the admin token.
  std::string CreateToken(v1::TokenRole role, const std::vector<std::string>& owners,
                          v1::Token* token = nullptr) {
    grpc::ClientContext context;
    v1::CreateTokenRequest request;
    request.set_role(role);
    for (const std::string& owner : owners) request.add_owners(owner);
    v1::CreateTokenResponse response;
    grpc::Status status = tokens_->CreateToken(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (token != nullptr) *token = response.token();
    return response.secret();
  }

  void RestartServer() {
    server_.reset();
    StartServer();
  }

  grpc::Status Upload(const std::string& upload_id, const std::string& bytes,
                      v1::Dataset* dataset, const std::string& filename = "photos.zip") {
    grpc::ClientContext context;
    auto writer = datasets_->UploadDataset(&context, dataset);
    v1::UploadDatasetRequest header;
    header.mutable_header()->set_upload_id(upload_id);
    header.mutable_header()->set_filename(filename);
    header.mutable_header()->set_size_bytes(static_cast<int64_t>(bytes.size()));
    header.mutable_header()->set_sha256(Sha256Hex(bytes));
    writer->Write(header);
    v1::UploadDatasetRequest chunk;
    chunk.mutable_chunk()->set_offset(0);
    chunk.mutable_chunk()->set_data(bytes);
    writer->Write(chunk);
    writer->WritesDone();
    return writer->Finish();
  }

  // A model with one base version whose directory holds model_index.json.
  v1::Version ImportBase(const std::string& model) {
    std::filesystem::path dir = data_dir_ / ("base-" + model.substr(model.find('/') + 1));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "model_index.json") << "{}";
    grpc::ClientContext context;
    v1::ImportBaseVersionRequest request;
    request.set_model(model);
    request.set_diffusers_dir(dir.string());
    v1::Version version;
    grpc::Status status = models_->ImportBaseVersion(&context, request, &version);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return version;
  }

  grpc::Status CreateModel(const std::string& owner, const std::string& name,
                           v1::Model* model = nullptr) {
    grpc::ClientContext context;
    v1::CreateModelRequest request;
    request.set_owner(owner);
    request.set_name(name);
    v1::Model ignored;
    return models_->CreateModel(&context, request, model != nullptr ? model : &ignored);
  }

  std::string UploadDataset() {
    v1::Dataset dataset;
    grpc::Status status = Upload("dataset-upload", ZipLikeBytes(1000), &dataset);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return dataset.name();
  }

  // Base model acme/sd with a version, destination alice/faces, an uploaded dataset.
  void PrepareTrainingInputs() {
    ImportBase("acme/sd");
    ASSERT_TRUE(CreateModel("alice", "faces").ok());
    dataset_name_ = UploadDataset();
  }

  v1::CreateTrainingRequest TrainingRequest() const {
    v1::CreateTrainingRequest request;
    request.set_model("acme/sd");
    request.set_destination("alice/faces");
    (*request.mutable_input()->mutable_fields())["input_images"].set_string_value(dataset_name_);
    (*request.mutable_input()->mutable_fields())["token_string"].set_string_value("sks");
    (*request.mutable_input()->mutable_fields())["max_train_steps"].set_number_value(10);
    return request;
  }

  grpc::Status CreateTraining(const v1::CreateTrainingRequest& request, v1::Training* training) {
    grpc::ClientContext context;
    return trainings_->CreateTraining(&context, request, training);
  }

  v1::Training GetTraining(const std::string& id) {
    grpc::ClientContext context;
    v1::GetTrainingRequest request;
    request.set_id(id);
    v1::Training training;
    grpc::Status status = trainings_->GetTraining(&context, request, &training);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return training;
  }

  std::string RegisterWorker(const std::string& name = "worker-1") {
    grpc::ClientContext context;
    v1::RegisterWorkerRequest request;
    request.set_name(name);
    v1::Device* device = request.add_devices();
    device->set_kind("cpu");
    v1::RegisterWorkerResponse response;
    grpc::Status status = workers_->RegisterWorker(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.worker_id();
  }

  v1::LeaseTaskResponse LeaseTask(const std::string& worker_id, absl::Duration wait) {
    grpc::ClientContext context;
    v1::LeaseTaskRequest request;
    request.set_worker_id(worker_id);
    request.mutable_wait()->set_seconds(absl::ToInt64Seconds(wait));
    v1::LeaseTaskResponse response;
    grpc::Status status = workers_->LeaseTask(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  grpc::Status Heartbeat(const v1::Task& task, v1::HeartbeatResponse* response) {
    grpc::ClientContext context;
    v1::HeartbeatRequest request;
    request.set_task_id(task.id());
    request.set_epoch(task.epoch());
    return workers_->Heartbeat(&context, request, response);
  }

  grpc::Status UploadOutput(const v1::Task& task, const std::string& bytes, v1::OutputRef* ref) {
    grpc::ClientContext context;
    auto writer = workers_->UploadOutput(&context, ref);
    v1::UploadOutputRequest header;
    header.mutable_header()->set_task_id(task.id());
    header.mutable_header()->set_epoch(task.epoch());
    header.mutable_header()->set_name("lora.safetensors");
    header.mutable_header()->set_size_bytes(static_cast<int64_t>(bytes.size()));
    header.mutable_header()->set_sha256(Sha256Hex(bytes));
    writer->Write(header);
    v1::UploadOutputRequest data;
    data.set_data(bytes);
    writer->Write(data);
    writer->WritesDone();
    return writer->Finish();
  }

  grpc::Status FailTask(const v1::Task& task, v1::FailureClass failure, const std::string& error) {
    grpc::ClientContext context;
    v1::FailTaskRequest request;
    request.set_task_id(task.id());
    request.set_epoch(task.epoch());
    request.set_error(error);
    request.set_failure_class(failure);
    v1::FailTaskResponse response;
    return workers_->FailTask(&context, request, &response);
  }

  std::filesystem::path data_dir_;
  std::unique_ptr<CoordinatorServer> server_;
  std::unique_ptr<v1::DatasetService::Stub> datasets_;
  std::unique_ptr<v1::ModelService::Stub> models_;
  std::unique_ptr<v1::TrainingService::Stub> trainings_;
  std::unique_ptr<v1::WorkerService::Stub> workers_;
  std::unique_ptr<v1::TokenService::Stub> tokens_;
  std::string admin_token_;
  std::string dataset_name_;
};

}  // namespace easel::testing

#endif  // EASEL_TESTS_COORDINATOR_COORDINATOR_FIXTURE_H_
