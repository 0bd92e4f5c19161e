// The whole path on loopback with real processes: upload -> preprocess -> train -> version.

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "common/safetensors.h"
#include "common/sha256.h"
#include "easel/v1/datasets.grpc.pb.h"
#include "easel/v1/models.grpc.pb.h"
#include "easel/v1/trainings.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/dataset_zip.h"
#include "tests/testing/server_process.h"

namespace easel {
namespace {

using ::testing::HasSubstr;
using testing::RunCommand;
using testing::ServerProcess;

class TrainE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() / ("easel-e2e-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);

    auto coordinator = ServerProcess::Start(
        {EASEL_COORDINATOR_BIN, "--data-dir", (dir_ / "data").string(), "--listen",
         "127.0.0.1:0"},
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
        {EASEL_WORKER_BIN, "--coordinator", address_, "--work-dir", (dir_ / "work").string(),
         "--trainer-bin", EASEL_TRAINER_BIN, "--preprocess-bin", EASEL_PREPROCESS_BIN},
        dir_ / "worker.log");
    ASSERT_TRUE(worker.ok()) << worker.status();
    worker_ = worker->release();
  }

  static void TearDownTestSuite() {
    if (worker_ != nullptr) worker_->Terminate();
    if (coordinator_ != nullptr) coordinator_->Terminate();
    delete worker_;
    delete coordinator_;
    delete datasets_;
    delete models_;
    delete trainings_;
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  void TearDown() override {
    if (HasFailure()) {
      std::fprintf(stderr, "--- coordinator log ---\n%s\n--- worker log ---\n%s\n",
                   coordinator_ ? coordinator_->Log().c_str() : "",
                   worker_ ? worker_->Log().c_str() : "");
    }
  }

  static grpc::Status Upload(const std::string& filename, const std::string& bytes,
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

  static std::string ZipBytes(const std::map<std::string, std::string>& entries) {
    auto path = dir_ / "scratch.zip";
    EXPECT_TRUE(testing::WriteZip(path, entries).ok());
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  static grpc::Status CreateModel(const std::string& owner, const std::string& name) {
    v1::CreateModelRequest request;
    request.set_owner(owner);
    request.set_name(name);
    v1::Model model;
    grpc::ClientContext context;
    return models_->CreateModel(&context, request, &model);
  }

  static grpc::Status CreateTraining(const std::string& model, const std::string& destination,
                                     const nlohmann::json& input, v1::Training* training) {
    v1::CreateTrainingRequest request;
    request.set_model(model);
    request.set_destination(destination);
    auto& fields = *request.mutable_input()->mutable_fields();
    for (const auto& [key, value] : input.items()) {
      if (value.is_string()) {
        fields[key].set_string_value(value.get<std::string>());
      } else {
        fields[key].set_number_value(value.get<double>());
      }
    }
    grpc::ClientContext context;
    return trainings_->CreateTraining(&context, request, training);
  }

  static std::vector<v1::TrainingEvent> WatchToEnd(const std::string& id) {
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

  static void ExpectServing() {
    EXPECT_TRUE(coordinator_->Running());
    v1::ListModelsRequest request;
    v1::ListModelsResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(models_->ListModels(&context, request, &response).ok());
  }

  static inline std::filesystem::path dir_;
  static inline std::string address_;
  static inline std::string base_version_id_;
  static inline ServerProcess* coordinator_ = nullptr;
  static inline ServerProcess* worker_ = nullptr;
  static inline v1::DatasetService::Stub* datasets_ = nullptr;
  static inline v1::ModelService::Stub* models_ = nullptr;
  static inline v1::TrainingService::Stub* trainings_ = nullptr;
};

TEST_F(TrainE2eTest, TrainsLoraAndPublishesExactlyOneVersion) {
  const std::string zip = ZipBytes(testing::ExampleDatasetEntries());
  v1::Dataset dataset;
  grpc::Status uploaded = Upload("photos.zip", zip, Sha256Hex(zip), &dataset);
  ASSERT_TRUE(uploaded.ok()) << uploaded.error_message();
  EXPECT_EQ(dataset.sha256(), Sha256Hex(zip));
  ASSERT_TRUE(CreateModel("alice", "tok-lora").ok());

  v1::Training training;
  grpc::Status created = CreateTraining(
      "easel/tiny", "alice/tok-lora",
      {{"input_images", dataset.name()}, {"max_train_steps", 30}, {"lora_rank", 4},
       {"learning_rate", 1e-3}, {"seed", 7}},
      &training);
  ASSERT_TRUE(created.ok()) << created.error_message();

  std::vector<v1::TrainingEvent> events = WatchToEnd(training.id());
  ASSERT_FALSE(events.empty());
  const v1::TrainingEvent& last = events.back();
  ASSERT_TRUE(last.has_status());
  ASSERT_EQ(last.status().status(), v1::SUCCEEDED) << last.status().error();

  // Events arrive in sequence order; training progress counts 1..30 without going back.
  int64_t previous_sequence = 0, previous_step = 0, train_events = 0;
  for (const auto& event : events) {
    EXPECT_GT(event.sequence(), previous_sequence);
    previous_sequence = event.sequence();
    if (event.has_progress() && event.progress().phase() == "train") {
      EXPECT_GT(event.progress().step(), previous_step);
      EXPECT_EQ(event.progress().total(), 30);
      previous_step = event.progress().step();
      ++train_events;
    }
  }
  EXPECT_EQ(previous_step, 30);
  EXPECT_GE(train_events, 2);

  v1::ListVersionsRequest list;
  list.set_model("alice/tok-lora");
  v1::ListVersionsResponse versions;
  grpc::ClientContext list_context;
  ASSERT_TRUE(models_->ListVersions(&list_context, list, &versions).ok());
  ASSERT_EQ(versions.versions_size(), 1);
  const v1::Version& version = versions.versions(0);
  EXPECT_THAT(version.trigger_tokens(), ::testing::ElementsAre("TOK"));
  EXPECT_EQ(version.base_version(), "easel/tiny:" + base_version_id_);
  EXPECT_EQ(version.training_id(), training.id());
  EXPECT_EQ(last.training().output().version(), "alice/tok-lora:" + version.id());

  // The downloaded weights are a valid safetensors file whose LoRA tensors moved from their
  // initial values (lora_B starts at zero).
  v1::DownloadWeightsRequest download;
  download.set_model("alice/tok-lora");
  grpc::ClientContext download_context;
  auto reader = models_->DownloadWeights(&download_context, download);
  std::string weights;
  for (v1::WeightsChunk chunk; reader->Read(&chunk);) weights += chunk.data();
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(Sha256Hex(weights), version.weights_digest());
  const auto weights_path = dir_ / "downloaded.safetensors";
  std::ofstream(weights_path, std::ios::binary) << weights;
  auto file = safetensors::File::Open(weights_path);
  ASSERT_TRUE(file.ok()) << file.status();
  int lora_b = 0;
  for (const auto& tensor : (*file)->tensors()) {
    EXPECT_THAT(tensor.name, HasSubstr("lora_"));
    if (tensor.name.find("lora_B") == std::string::npos) continue;
    ASSERT_EQ(tensor.dtype, safetensors::Dtype::kF32) << tensor.name;
    std::vector<float> values(tensor.size_bytes / sizeof(float));
    std::memcpy(values.data(), tensor.data, tensor.size_bytes);
    float largest = 0;
    for (float v : values) largest = std::max(largest, std::abs(v));
    EXPECT_GT(largest, 0.0f) << tensor.name << " never left its initial zeros";
    ++lora_b;
  }
  EXPECT_GT(lora_b, 0);
}

TEST_F(TrainE2eTest, RefusesBadInputClearlyAndKeepsServing) {
  v1::Dataset dataset;
  const std::string not_zip = "this is a text file, not an archive";
  grpc::Status status = Upload("notes.zip", not_zip, Sha256Hex(not_zip), &dataset);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("not a zip"));
  ExpectServing();

  const std::string zip = ZipBytes(testing::ExampleDatasetEntries());
  status = Upload("photos.zip", zip, Sha256Hex("something else"), &dataset);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("checksum"));
  ExpectServing();

  ASSERT_TRUE(Upload("photos.zip", zip, Sha256Hex(zip), &dataset).ok());
  ASSERT_TRUE(CreateModel("bob", "faces").ok());
  v1::Training training;
  status = CreateTraining("easel/tiny", "nobody/nothing", {{"input_images", dataset.name()}},
                          &training);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("nobody/nothing"));
  ExpectServing();

  status = CreateTraining("easel/missing", "bob/faces", {{"input_images", dataset.name()}},
                          &training);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("easel/missing"));
  ExpectServing();

  status = CreateTraining("easel/tiny", "bob/faces",
                          {{"input_images", dataset.name()}, {"max_train_steps", -5}}, &training);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("max_train_steps"));
  ExpectServing();
}

TEST_F(TrainE2eTest, ZipWithoutImagesFailsTheTrainingWithTheReason) {
  const std::string zip = ZipBytes({{"notes.txt", "no pictures here"}});
  v1::Dataset dataset;
  ASSERT_TRUE(Upload("empty.zip", zip, Sha256Hex(zip), &dataset).ok());
  ASSERT_TRUE(CreateModel("carol", "empty").ok());
  v1::Training training;
  ASSERT_TRUE(CreateTraining("easel/tiny", "carol/empty",
                             {{"input_images", dataset.name()}, {"max_train_steps", 5}},
                             &training)
                  .ok());
  std::vector<v1::TrainingEvent> events = WatchToEnd(training.id());
  ASSERT_FALSE(events.empty());
  ASSERT_TRUE(events.back().has_status());
  EXPECT_EQ(events.back().status().status(), v1::FAILED);
  EXPECT_THAT(events.back().status().error(), HasSubstr("no images"));
  ExpectServing();
}

TEST_F(TrainE2eTest, CliTrainsFollowsAndDownloads) {
  const auto zip_path = dir_ / "cli-photos.zip";
  // The six example photos and one file that is not an image: the inclusion report lists it.
  std::map<std::string, std::string> entries = testing::ExampleDatasetEntries();
  entries["scan.pdf"] = "%PDF-1.4 not a photo";
  ASSERT_TRUE(testing::WriteZip(zip_path, entries).ok());
  auto trained = RunCommand({EASEL_CLI_BIN, "--host", address_, "train", "easel/tiny", "-d",
                             "dave/cli-lora", "--create-destination",
                             "input_images=@" + zip_path.string(), "max_train_steps=8",
                             "lora_rank=2", "--follow", "--json"});
  ASSERT_EQ(trained.exit_code, 0) << trained.stderr_text;
  auto json = nlohmann::json::parse(trained.stdout_text);
  EXPECT_EQ(json.value("status", ""), "SUCCEEDED");
  EXPECT_THAT(json["output"].value("version", ""), HasSubstr("dave/cli-lora:"));
  const std::string id = json.value("id", "");

  // The inclusion report, through GetTraining ...
  v1::GetTrainingRequest get;
  get.set_id(id);
  v1::Training training;
  grpc::ClientContext get_context;
  ASSERT_TRUE(trainings_->GetTraining(&get_context, get, &training).ok());
  ASSERT_TRUE(training.has_dataset_report());
  const v1::DatasetReport& report = training.dataset_report();
  EXPECT_EQ(report.images_used(), 6);
  EXPECT_EQ(report.used_size(), 6);
  for (const auto& image : report.used()) {
    EXPECT_FALSE(image.caption().empty()) << image.source();
    EXPECT_FALSE(image.caption_source().empty()) << image.source();
  }
  EXPECT_EQ(report.images_skipped(), 1);
  ASSERT_EQ(report.skipped_size(), 1);
  EXPECT_EQ(report.skipped(0).source(), "scan.pdf");
  const std::string reason = report.skipped(0).reason();
  EXPECT_FALSE(reason.empty());
  EXPECT_EQ(report.warning_count(), report.warnings_size());

  // ... and through `easel trainings show`, as text and as JSON.
  auto shown = RunCommand({EASEL_CLI_BIN, "--host", address_, "trainings", "show", id});
  ASSERT_EQ(shown.exit_code, 0) << shown.stderr_text;
  EXPECT_THAT(shown.stdout_text, HasSubstr("Dataset:      6 images used, 1 skipped, "));
  EXPECT_THAT(shown.stdout_text, HasSubstr("Skipped:      scan.pdf: " + reason + "\n"));
  auto shown_json =
      RunCommand({EASEL_CLI_BIN, "--host", address_, "trainings", "show", id, "--json"});
  ASSERT_EQ(shown_json.exit_code, 0) << shown_json.stderr_text;
  auto shown_report = nlohmann::json::parse(shown_json.stdout_text)["dataset_report"];
  EXPECT_EQ(shown_report["skipped"][0].value("source", ""), "scan.pdf");
  EXPECT_EQ(shown_report["skipped"][0].value("reason", ""), reason);
  EXPECT_EQ(shown_report["used"].size(), 6u);

  const auto weights = dir_ / "cli.safetensors";
  auto downloaded = RunCommand({EASEL_CLI_BIN, "--host", address_, "weights", "download",
                                "dave/cli-lora", "-o", weights.string()});
  ASSERT_EQ(downloaded.exit_code, 0) << downloaded.stderr_text;
  EXPECT_TRUE(safetensors::File::Open(weights).ok());

  auto refused = RunCommand({EASEL_CLI_BIN, "--host", address_, "train", "easel/tiny", "-d",
                             "dave/cli-lora", "input_images=@" + zip_path.string(),
                             "max_train_steps=-1"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_THAT(refused.stderr_text, HasSubstr("max_train_steps"));
}

}  // namespace
}  // namespace easel
