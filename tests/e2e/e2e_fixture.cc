#include "tests/e2e/e2e_fixture.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <utility>

#include "common/sha256.h"
#include "tests/testing/dataset_zip.h"

namespace easel::testing {

void E2eFixture::SetUpTestSuite() {
  dir_ = std::filesystem::temp_directory_path() / ("easel-e2e-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);

  auto coordinator = ServerProcess::Start(
      {EASEL_COORDINATOR_BIN, "--data-dir", DataDir().string(), "--listen", "127.0.0.1:0"},
      dir_ / "coordinator.log");
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  coordinator_ = coordinator->release();
  auto line = coordinator_->ReadLine();
  ASSERT_TRUE(line.ok()) << line.status();
  auto listening = nlohmann::json::parse(*line);
  ASSERT_EQ(listening.value("event", ""), "listening") << *line;
  address_ = listening.value("address", "");

  auto channel = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
  datasets_ = v1::DatasetService::NewStub(channel).release();
  models_ = v1::ModelService::NewStub(channel).release();
  trainings_ = v1::TrainingService::NewStub(channel).release();

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

  auto worker = ServerProcess::Start(
      {EASEL_WORKER_BIN, "--coordinator", address_, "--work-dir", WorkDir().string(),
       "--trainer-bin", EASEL_TRAINER_BIN, "--preprocess-bin", EASEL_PREPROCESS_BIN},
      dir_ / "worker.log");
  ASSERT_TRUE(worker.ok()) << worker.status();
  worker_ = worker->release();
}

void E2eFixture::TearDownTestSuite() {
  if (worker_ != nullptr) worker_->Terminate();
  if (coordinator_ != nullptr) coordinator_->Terminate();
  delete worker_;
  delete coordinator_;
  delete datasets_;
  delete models_;
  delete trainings_;
  worker_ = nullptr;
  coordinator_ = nullptr;
  datasets_ = nullptr;
  models_ = nullptr;
  trainings_ = nullptr;
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
                                        const nlohmann::json& input, v1::Training* training) {
  v1::CreateTrainingRequest request;
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
  EXPECT_TRUE(models_->ListModels(&context, request, &response).ok());
}

}  // namespace easel::testing
