// The whole path on loopback with real processes: upload -> preprocess -> train -> version.

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/strip.h"
#include "common/safetensors.h"
#include "common/sha256.h"
#include "easel/v1/datasets.grpc.pb.h"
#include "easel/v1/models.grpc.pb.h"
#include "easel/v1/trainings.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/e2e_fixture.h"
#include "tests/testing/dataset_zip.h"
#include "tests/testing/server_process.h"

namespace easel {
namespace {

using ::testing::HasSubstr;
using testing::RunCommand;

// The suite's coordinator, worker and base model: tests/e2e/e2e_fixture.h.
class TrainE2eTest : public testing::E2eFixture {};

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

  // Progress reaches the logs as tqdm lines.
  auto logs = RunCommand({EASEL_CLI_BIN, "--host", address_, "trainings", "logs", id});
  ASSERT_EQ(logs.exit_code, 0) << logs.stderr_text;
  EXPECT_THAT(logs.stdout_text, HasSubstr(" 100%|██████████| 8/8 ["));

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

TEST_F(TrainE2eTest, RetrainingWithTheSamePreprocessingReusesThePreparedDataset) {
  std::map<std::string, std::string> entries = testing::ExampleDatasetEntries();
  entries["retrain-notes.pdf"] = "%PDF-1.4 makes this archive unlike the other tests'";
  const std::string zip = ZipBytes(entries);
  v1::Dataset dataset;
  ASSERT_TRUE(Upload("retrain.zip", zip, Sha256Hex(zip), &dataset).ok());
  ASSERT_TRUE(CreateModel("erin", "retrain").ok());

  // The first training preprocesses; the second, with other training inputs but the same
  // preprocessing ones, starts training on the first one's prepared dataset.
  std::vector<v1::Training> trainings(2);
  std::vector<std::vector<v1::TrainingEvent>> events(2);
  for (int i = 0; i < 2; ++i) {
    grpc::Status created = CreateTraining(
        "easel/tiny", "erin/retrain",
        {{"input_images", dataset.name()}, {"max_train_steps", 2 + i}, {"lora_rank", 2},
         {"seed", 11 + i}},
        &trainings[i]);
    ASSERT_TRUE(created.ok()) << created.error_message();
    events[i] = WatchToEnd(trainings[i].id());
    ASSERT_FALSE(events[i].empty());
    ASSERT_EQ(events[i].back().status().status(), v1::SUCCEEDED)
        << events[i].back().status().error();
    ASSERT_TRUE(GetTraining(trainings[i].id(), &trainings[i]).ok());
  }
  auto preprocess_events = [](const std::vector<v1::TrainingEvent>& watched) {
    int count = 0;
    for (const auto& event : watched) {
      count += event.has_progress() && event.progress().phase() == "preprocess";
    }
    return count;
  };
  EXPECT_GT(preprocess_events(events[0]), 0);
  EXPECT_EQ(preprocess_events(events[1]), 0);
  ASSERT_FALSE(trainings[0].prepared_dataset_sha256().empty());
  EXPECT_EQ(trainings[1].prepared_dataset_sha256(), trainings[0].prepared_dataset_sha256());
  EXPECT_THAT(trainings[1].logs(),
              HasSubstr("reusing the prepared dataset of training " + trainings[0].id()));
  EXPECT_EQ(trainings[1].dataset_report().SerializeAsString(),
            trainings[0].dataset_report().SerializeAsString());
  EXPECT_EQ(trainings[1].dataset_report().images_used(), 6);
  EXPECT_EQ(trainings[1].dataset_report().skipped(0).source(), "retrain-notes.pdf");

  // A different preprocessing input prepares the archive again.
  v1::Training third;
  ASSERT_TRUE(CreateTraining("easel/tiny", "erin/retrain",
                             {{"input_images", dataset.name()}, {"max_train_steps", 2},
                              {"lora_rank", 2}, {"caption_prefix", "a TOK painting"}},
                             &third)
                  .ok());
  std::vector<v1::TrainingEvent> third_events = WatchToEnd(third.id());
  ASSERT_EQ(third_events.back().status().status(), v1::SUCCEEDED)
      << third_events.back().status().error();
  ASSERT_TRUE(GetTraining(third.id(), &third).ok());
  EXPECT_GT(preprocess_events(third_events), 0);
  EXPECT_NE(third.prepared_dataset_sha256(), trainings[0].prepared_dataset_sha256());
}

// aspect_buckets reaches easel-preprocess and the trainer trains on what it made. (At the tiny
// model's 64 px every bucket is the square: buckets other than 1:1 start at 256 px, too slow
// for the CPU here. tests/trainer/methods covers several buckets, tests/preprocess the
// bucketing.)
TEST_F(TrainE2eTest, AspectBucketsReachPreprocessingAndTraining) {
  const std::string zip = ZipBytes(testing::ExampleDatasetEntries());
  v1::Dataset dataset;
  ASSERT_TRUE(Upload("photos.zip", zip, Sha256Hex(zip), &dataset).ok());
  ASSERT_TRUE(CreateModel("frank", "buckets").ok());
  v1::Training training;
  grpc::Status created = CreateTraining(
      "easel/tiny", "frank/buckets",
      {{"input_images", dataset.name()}, {"aspect_buckets", true}, {"max_train_steps", 2},
       {"lora_rank", 2}},
      &training);
  ASSERT_TRUE(created.ok()) << created.error_message();
  EXPECT_TRUE(training.input().fields().at("aspect_buckets").bool_value());
  std::vector<v1::TrainingEvent> events = WatchToEnd(training.id());
  ASSERT_FALSE(events.empty());
  ASSERT_EQ(events.back().status().status(), v1::SUCCEEDED) << events.back().status().error();
  ASSERT_TRUE(GetTraining(training.id(), &training).ok());
  EXPECT_THAT(training.logs(), HasSubstr("--aspect-buckets true"));
  EXPECT_EQ(training.dataset_report().images_used(), 6);
}

}  // namespace
}  // namespace easel

namespace easel {
namespace {

using ::testing::HasSubstr;
using testing::RunCommand;

using ::testing::Not;

class TokensE2eTest : public testing::E2eFixture {
 protected:
  // The easel command run with EASEL_API_TOKEN=token (unset when empty).
  static testing::CommandResult Easel(const std::string& token, std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/env"};
    if (token.empty()) {
      argv.push_back("-u");
      argv.push_back("EASEL_API_TOKEN");
    } else {
      argv.push_back("EASEL_API_TOKEN=" + token);
    }
    argv.push_back(EASEL_CLI_BIN);
    argv.push_back("--host");
    argv.push_back(address_);
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  }
};

TEST_F(TokensE2eTest, TheCliManagesTokensAndATokenSeesOnlyItsOwners) {
  ASSERT_TRUE(CreateModel("yan", "secret").ok());
  auto created = Easel(admin_token_, {"tokens", "create", "--owner", "zed", "--description", "e2e"});
  ASSERT_EQ(created.exit_code, 0) << created.stderr_text;
  EXPECT_THAT(created.stderr_text, HasSubstr("Created user token"));
  std::string zed(absl::StripAsciiWhitespace(created.stdout_text));
  ASSERT_TRUE(zed.starts_with("easel_")) << zed;

  auto own = Easel(zed, {"models", "create", "zed/mine"});
  EXPECT_EQ(own.exit_code, 0) << own.stderr_text;
  auto others = Easel(zed, {"models", "show", "yan/secret"});
  EXPECT_NE(others.exit_code, 0);
  EXPECT_THAT(others.stderr_text, HasSubstr("model yan/secret not found"));
  auto listed = Easel(zed, {"models", "list"});
  EXPECT_EQ(listed.exit_code, 0) << listed.stderr_text;
  EXPECT_THAT(listed.stdout_text, HasSubstr("zed/mine"));
  EXPECT_THAT(listed.stdout_text, Not(HasSubstr("yan/secret")));
  EXPECT_THAT(listed.stdout_text, HasSubstr("easel/tiny"));  // public base model
  auto not_admin = Easel(zed, {"tokens", "list"});
  EXPECT_NE(not_admin.exit_code, 0);
  EXPECT_THAT(not_admin.stderr_text, HasSubstr("admin token"));

  auto anonymous = Easel("", {"models", "list"});
  EXPECT_NE(anonymous.exit_code, 0);
  EXPECT_THAT(anonymous.stderr_text, HasSubstr("EASEL_API_TOKEN"));

  auto tokens = Easel(admin_token_, {"tokens", "list", "--json"});
  ASSERT_EQ(tokens.exit_code, 0) << tokens.stderr_text;
  std::string zed_id;
  const nlohmann::json listing = nlohmann::json::parse(tokens.stdout_text);
  for (const auto& token : listing["tokens"]) {
    if (token.value("description", "") == "e2e") zed_id = token["id"].get<std::string>();
  }
  ASSERT_FALSE(zed_id.empty()) << tokens.stdout_text;
  EXPECT_THAT(tokens.stdout_text, Not(HasSubstr(zed)));
  auto revoked = Easel(admin_token_, {"tokens", "revoke", zed_id});
  EXPECT_EQ(revoked.exit_code, 0) << revoked.stderr_text;
  auto after = Easel(zed, {"models", "list"});
  EXPECT_NE(after.exit_code, 0);
  EXPECT_THAT(after.stderr_text, HasSubstr("not valid"));
}

}  // namespace
}  // namespace easel

namespace easel {
namespace {

// Host and token from the config file alone; --web prints the training's page.
TEST_F(TrainE2eTest, CliReadsItsConfigFileAndPrintsTheWebPage) {
  const auto zip_path = dir_ / "web-photos.zip";
  ASSERT_TRUE(testing::WriteZip(zip_path, testing::ExampleDatasetEntries()).ok());
  const auto config = dir_ / "easel-config";
  std::ofstream(config) << "# test\nhost = " << address_ << "\ntoken = " << admin_token_ << "\n";
  unsetenv("EASEL_API_TOKEN");
  setenv("EASEL_CONFIG", config.c_str(), 1);
  auto trained = RunCommand({EASEL_CLI_BIN, "train", "easel/tiny", "-d", "erin/web-lora",
                             "--create-destination", "input_images=@" + zip_path.string(),
                             "max_train_steps=2", "--web"});
  unsetenv("EASEL_CONFIG");
  setenv("EASEL_API_TOKEN", admin_token_.c_str(), 1);
  ASSERT_EQ(trained.exit_code, 0) << trained.stderr_text;
  std::istringstream lines(trained.stdout_text);
  std::string id, web;
  std::getline(lines, web);
  std::getline(lines, id);
  EXPECT_EQ(web, http_url_ + "/trainings/" + id) << trained.stdout_text;
  WatchToEnd(id);
}

}  // namespace
}  // namespace easel
