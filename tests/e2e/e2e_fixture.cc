#include "tests/e2e/e2e_fixture.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <utility>

#include "common/client_channel.h"
#include "common/sha256.h"
#include "tests/testing/dataset_zip.h"

namespace easel::testing {

namespace {

// Starts easel-coordinator listening on `listen`; returns the address it listens on and sets
// `http_url` to its HTTP API's.
std::string StartCoordinator(const std::filesystem::path& data_dir, const std::string& listen,
                             const std::vector<std::string>& flags,
                             const std::filesystem::path& log, ServerProcess** process,
                             std::string* http_url) {
  std::vector<std::string> argv = {EASEL_COORDINATOR_BIN, "--data-dir", data_dir.string(),
                                   "--listen", listen};
  argv.insert(argv.end(), flags.begin(), flags.end());
  auto coordinator = ServerProcess::Start(argv, log);
  EXPECT_TRUE(coordinator.ok()) << coordinator.status();
  if (!coordinator.ok()) return "";
  *process = coordinator->release();
  auto line = (*process)->ReadLine();
  EXPECT_TRUE(line.ok()) << line.status();
  if (!line.ok()) return "";
  auto listening = nlohmann::json::parse(*line, nullptr, /*allow_exceptions=*/false);
  EXPECT_EQ(listening.value("event", ""), "listening") << *line;
  *http_url = listening.value("http_url", "");
  return listening.value("address", "");
}

}  // namespace

void E2eFixture::StartSuite(const std::vector<std::string>& coordinator_flags,
                            bool start_worker) {
  dir_ = std::filesystem::temp_directory_path() / ("easel-e2e-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
  coordinator_flags_ = coordinator_flags;
  coordinator_starts_ = 1;
  address_ = StartCoordinator(DataDir(), "127.0.0.1:0", coordinator_flags_,
                              dir_ / "coordinator.log", &coordinator_, &http_url_);
  ASSERT_FALSE(address_.empty());
  auto admin_token = ReadTokenFile(DataDir() / "admin-token");
  ASSERT_TRUE(admin_token.ok()) << admin_token.status();
  admin_token_ = *admin_token;
  setenv("EASEL_API_TOKEN", admin_token_.c_str(), 1);  // for the easel commands tests run

  Connect();
  worker_token_file_ = dir_ / "worker.token";
  std::ofstream(worker_token_file_) << CreateToken(v1::WORKER, {}) << "\n";

  auto init = RunCommand({EASEL_TRAINER_BIN, "init-model", "--preset", "tiny", "--output",
                          (dir_ / "tiny").string(), "--seed", "1"});
  ASSERT_EQ(init.exit_code, 0) << init.stderr_text;
  v1::ImportBaseVersionRequest import;
  import.set_model("easel/tiny");
  import.set_diffusers_dir((dir_ / "tiny").string());
  grpc::ClientContext context;
  v1::Version base;
  grpc::Status imported = models_->ImportBaseVersion(&context, import, &base);
  ASSERT_TRUE(imported.ok()) << imported.error_message();
  base_version_id_ = base.id();

  other_workers_.clear();
  if (start_worker) worker_ = StartWorker("worker");
}

ServerProcess* E2eFixture::StartWorker(const std::string& name, const std::string& trainer_bin) {
  auto worker = ServerProcess::Start(
      {EASEL_WORKER_BIN, "--coordinator", address_, "--name", name, "--work-dir",
       (WorkDir() / name).string(), "--trainer-bin", trainer_bin, "--preprocess-bin",
       EASEL_PREPROCESS_BIN, "--token-file", worker_token_file_.string()},
      dir_ / (name + ".log"));
  EXPECT_TRUE(worker.ok()) << worker.status();
  if (!worker.ok()) return nullptr;
  if (worker_ != nullptr) other_workers_.push_back(worker->get());
  return worker->release();
}

void E2eFixture::RestartWorker() {
  delete worker_;  // reaps the process
  worker_ = nullptr;
  worker_ = StartWorker("worker-" + std::to_string(other_workers_.size() + 2));
}

std::vector<int> E2eFixture::WorkerPids() {
  std::vector<int> pids;
  if (worker_ != nullptr) pids.push_back(worker_->pid());
  for (ServerProcess* worker : other_workers_) pids.push_back(worker->pid());
  return pids;
}

void E2eFixture::RestartCoordinator() {
  delete coordinator_;  // reaps the process
  coordinator_ = nullptr;
  ++coordinator_starts_;
  const std::string address =
      StartCoordinator(DataDir(), address_, coordinator_flags_,
                       dir_ / ("coordinator-" + std::to_string(coordinator_starts_) + ".log"),
                       &coordinator_, &http_url_);
  EXPECT_EQ(address, address_);
  // A fresh channel: the old one's connection went with the killed process.
  delete datasets_;
  delete models_;
  delete trainings_;
  delete tokens_;
  Connect();
}

void E2eFixture::Connect() {
  auto channel = CreateClientChannel(address_, ClientOptions{.token = admin_token_});
  ASSERT_TRUE(channel.ok()) << channel.status();
  channel_ = *channel;
  datasets_ = v1::DatasetService::NewStub(channel_).release();
  models_ = v1::ModelService::NewStub(channel_).release();
  trainings_ = v1::TrainingService::NewStub(channel_).release();
  tokens_ = v1::TokenService::NewStub(channel_).release();
}

std::string E2eFixture::CreateToken(v1::TokenRole role, const std::vector<std::string>& owners) {
  grpc::ClientContext context;
  v1::CreateTokenRequest request;
  request.set_role(role);
  for (const std::string& owner : owners) request.add_owners(owner);
  v1::CreateTokenResponse response;
  grpc::Status status = tokens_->CreateToken(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.secret();
}

void E2eFixture::TearDownTestSuite() {
  for (ServerProcess* worker : other_workers_) {
    worker->Terminate();
    delete worker;
  }
  other_workers_.clear();
  if (worker_ != nullptr) worker_->Terminate();
  if (coordinator_ != nullptr) coordinator_->Terminate();
  delete worker_;
  delete coordinator_;
  delete datasets_;
  delete models_;
  delete trainings_;
  delete tokens_;
  tokens_ = nullptr;
  worker_ = nullptr;
  coordinator_ = nullptr;
  datasets_ = nullptr;
  models_ = nullptr;
  trainings_ = nullptr;
  channel_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void E2eFixture::TearDown() {
  if (HasFailure()) {
    std::fprintf(stderr, "--- coordinator log ---\n%s\n--- worker log ---\n%s\n",
                 coordinator_ ? coordinator_->Log().c_str() : "",
                 worker_ ? worker_->Log().c_str() : "");
  }
}

grpc::Status E2eFixture::Upload(const std::string& filename, const std::string& bytes,
                                const std::string& declared_sha256, v1::Dataset* dataset) {
  grpc::ClientContext context;
  auto writer = datasets_->UploadDataset(&context, dataset);
  v1::UploadDatasetRequest header;
  header.mutable_header()->set_upload_id(Sha256Hex(filename + bytes));
  header.mutable_header()->set_filename(filename);
  header.mutable_header()->set_size_bytes(static_cast<int64_t>(bytes.size()));
  header.mutable_header()->set_sha256(declared_sha256);
  writer->Write(header);
  const size_t half = bytes.size() / 2;
  for (auto [offset, length] : {std::pair{size_t{0}, half}, {half, bytes.size() - half}}) {
    v1::UploadDatasetRequest chunk;
    chunk.mutable_chunk()->set_offset(static_cast<int64_t>(offset));
    chunk.mutable_chunk()->set_data(bytes.substr(offset, length));
    if (!writer->Write(chunk)) break;
  }
  writer->WritesDone();
  return writer->Finish();
}

std::string E2eFixture::ZipBytes(const std::map<std::string, std::string>& entries) {
  auto path = dir_ / "scratch.zip";
  EXPECT_TRUE(WriteZip(path, entries).ok());
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

grpc::Status E2eFixture::CreateModel(const std::string& owner, const std::string& name) {
  v1::CreateModelRequest request;
  request.set_owner(owner);
  request.set_name(name);
  v1::Model model;
  grpc::ClientContext context;
  return models_->CreateModel(&context, request, &model);
}

grpc::Status E2eFixture::CreateTraining(const std::string& model, const std::string& destination,
                                        const nlohmann::json& input, v1::Training* training,
                                        const std::string& request_id) {
  v1::CreateTrainingRequest request;
  request.set_request_id(request_id);
  request.set_model(model);
  request.set_destination(destination);
  auto& fields = *request.mutable_input()->mutable_fields();
  for (const auto& [key, value] : input.items()) {
    if (value.is_string()) {
      fields[key].set_string_value(value.get<std::string>());
    } else if (value.is_boolean()) {
      fields[key].set_bool_value(value.get<bool>());
    } else {
      fields[key].set_number_value(value.get<double>());
    }
  }
  grpc::ClientContext context;
  return trainings_->CreateTraining(&context, request, training);
}

grpc::Status E2eFixture::GetTraining(const std::string& id, v1::Training* training) {
  v1::GetTrainingRequest request;
  request.set_id(id);
  grpc::ClientContext context;
  return trainings_->GetTraining(&context, request, training);
}

std::vector<v1::TrainingEvent> E2eFixture::WatchToEnd(const std::string& id) {
  grpc::ClientContext context;
  v1::WatchTrainingRequest request;
  request.set_id(id);
  auto reader = trainings_->WatchTraining(&context, request);
  std::vector<v1::TrainingEvent> events;
  for (v1::TrainingEvent event; reader->Read(&event);) events.push_back(event);
  grpc::Status status = reader->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  return events;
}

void E2eFixture::ExpectServing() {
  EXPECT_TRUE(coordinator_->Running());
  v1::ListModelsRequest request;
  v1::ListModelsResponse response;
  grpc::ClientContext context;
  context.set_wait_for_ready(true);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::Status status = models_->ListModels(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

}  // namespace easel::testing
