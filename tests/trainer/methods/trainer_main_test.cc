// Runs the easel-trainer binary as a child process, as the worker does.

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "nlohmann/json.hpp"
#include "tests/trainer/data/dataset_fixture.h"
#include "tests/trainer/models/single_file_test_models.h"
#include "trainer/lora/lora.h"
#include "trainer/models/diffusers_model.h"
#include "trainer/models/single_file.h"
#include "trainer/tokenizer/clip_tokenizer.h"
#include "trainer/models/weights.h"

namespace easel {
namespace {

using ::testing::HasSubstr;

struct ChildResult {
  int exit_code = -1;
  std::vector<nlohmann::json> events;
  std::vector<std::string> non_json_lines;
};

std::filesystem::path TrainerBinary() {
  const char* build_dir = std::getenv("EASEL_BUILD_DIR");
  return std::filesystem::path(build_dir != nullptr ? build_dir : ".") / "trainer" /
         "easel-trainer";
}

std::string Quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

ChildResult RunTrainer(const std::vector<std::string>& args,
                       const std::filesystem::path& stderr_path) {
  std::string command = Quote(TrainerBinary().string());
  for (const std::string& arg : args) command += " " + Quote(arg);
  command += " 2>" + Quote(stderr_path.string());
  ChildResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    nlohmann::json event = nlohmann::json::parse(line, nullptr, false);
    if (event.is_discarded() || !event.is_object()) {
      result.non_json_lines.push_back(line);
    } else {
      result.events.push_back(std::move(event));
    }
  }
  return result;
}

std::vector<nlohmann::json> EventsOf(const ChildResult& result, const std::string& kind) {
  std::vector<nlohmann::json> out;
  for (const auto& event : result.events) {
    if (event.value("event", "") == kind) out.push_back(event);
  }
  return out;
}

class TrainerMainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = data::testing::FreshTempDir("trainer");
    data::testing::WriteSyntheticDataset(root_ / "dataset", 3, 32);
  }
  std::filesystem::path root_;
};

// easel-worker registers what `devices` lists; this build and machine may have no GPU, so the
// list may be empty, but every entry must describe a CUDA device the worker can place on.
TEST_F(TrainerMainTest, DevicesListsTheCudaDevicesAsOneJsonLine) {
  ChildResult run = RunTrainer({"devices"}, root_ / "devices.stderr");
  ASSERT_EQ(run.exit_code, 0);
  ASSERT_EQ(run.events.size(), 1u);
  EXPECT_TRUE(run.non_json_lines.empty());
  const nlohmann::json& devices = run.events[0]["devices"];
  ASSERT_TRUE(devices.is_array());
  EXPECT_EQ(devices.size(), static_cast<size_t>(torch::cuda::device_count()));
  for (const nlohmann::json& device : devices) {
    EXPECT_EQ(device["kind"], "cuda");
    EXPECT_GT(device.value("memory_bytes", int64_t{0}), 0);
  }
}

TEST_F(TrainerMainTest, InitModelThenTrainWritesWeightsAndStreamsProgress) {
  ChildResult init = RunTrainer(
      {"init-model", "--preset", "tiny", "--output", (root_ / "model").string(), "--seed", "3"},
      root_ / "init.stderr");
  ASSERT_EQ(init.exit_code, 0);
  EXPECT_TRUE(init.non_json_lines.empty());
  ASSERT_EQ(EventsOf(init, "done").size(), 1u);
  ASSERT_TRUE(std::filesystem::exists(root_ / "model" / "model_index.json"));

  data::testing::WriteJson(root_ / "spec.json", {{"method", "lora"},
                                                 {"max_train_steps", 6},
                                                 {"learning_rate", 1e-3},
                                                 {"lora_rank", 2},
                                                 {"token_string", "TOK"},
                                                 {"seed", 11}});
  ChildResult run = RunTrainer({"train", "--spec", (root_ / "spec.json").string(), "--dataset",
                                (root_ / "dataset").string(), "--model",
                                (root_ / "model").string(), "--output",
                                (root_ / "out").string(), "--device", "cpu"},
                               root_ / "train.stderr");
  ASSERT_EQ(run.exit_code, 0) << std::ifstream(root_ / "train.stderr").rdbuf();
  EXPECT_TRUE(run.non_json_lines.empty()) << run.non_json_lines.front();

  std::vector<nlohmann::json> progress = EventsOf(run, "progress");
  ASSERT_EQ(progress.size(), 6u);
  for (size_t i = 0; i < progress.size(); ++i) {
    EXPECT_EQ(progress[i]["step"], static_cast<int>(i) + 1);
    EXPECT_EQ(progress[i]["total"], 6);
    for (const char* field : {"loss", "lr", "it_s", "eta_s"}) {
      EXPECT_TRUE(progress[i][field].is_number()) << field;
    }
  }
  ASSERT_FALSE(run.events.empty());
  const nlohmann::json& done = run.events.back();
  EXPECT_EQ(done["event"], "done");
  EXPECT_EQ(done["weights"], "lora.safetensors");
  EXPECT_EQ(done["trigger_tokens"], nlohmann::json::array({"TOK"}));
  EXPECT_TRUE(EventsOf(run, "error").empty());

  ASSERT_TRUE(std::filesystem::exists(root_ / "out" / "lora.safetensors"));
  std::ifstream result_file(root_ / "out" / "result.json");
  nlohmann::json result = nlohmann::json::parse(result_file, nullptr, false);
  ASSERT_TRUE(result.is_object());
  EXPECT_EQ(result["weights"], "lora.safetensors");
  EXPECT_EQ(result["format"], "diffusers-lora");
  EXPECT_EQ(result["steps"], 6);
  EXPECT_EQ(result["trigger_tokens"], nlohmann::json::array({"TOK"}));
  EXPECT_TRUE(result["final_loss"].is_number());

  // The weights load back into the base model's UNet.
  auto model = models::LoadDiffusersModel(root_ / "model");
  ASSERT_TRUE(model.ok()) << model.status();
  auto info = lora::LoadLora(root_ / "out" / "lora.safetensors", {{"unet", model->unet.get()}});
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->rank, 2);
  EXPECT_EQ(info->trigger_phrase, "TOK");
}

// What `easel-preprocess --aspect-buckets` writes for photos with transparency: two sizes,
// masks on some images.
TEST_F(TrainerMainTest, TrainsOnATwoBucketDatasetWithMasksAndWritesWeights) {
  data::testing::WriteBucketedDataset(
      root_ / "buckets", {{32, 48, true}, {48, 32}, {32, 48}, {48, 32, true}, {32, 48}}, 40);
  ChildResult init = RunTrainer(
      {"init-model", "--preset", "tiny", "--output", (root_ / "model").string(), "--seed", "5"},
      root_ / "init.stderr");
  ASSERT_EQ(init.exit_code, 0) << std::ifstream(root_ / "init.stderr").rdbuf();
  data::testing::WriteJson(root_ / "spec.json", {{"method", "lora"},
                                                 {"max_train_steps", 5},
                                                 {"learning_rate", 1e-3},
                                                 {"lora_rank", 2},
                                                 {"train_batch_size", 2},
                                                 {"masked_loss", true},
                                                 {"seed", 3}});
  ChildResult run = RunTrainer({"train", "--spec", (root_ / "spec.json").string(), "--dataset",
                                (root_ / "buckets").string(), "--model",
                                (root_ / "model").string(), "--output",
                                (root_ / "out").string(), "--device", "cpu"},
                               root_ / "train.stderr");
  ASSERT_EQ(run.exit_code, 0) << std::ifstream(root_ / "train.stderr").rdbuf();
  EXPECT_TRUE(EventsOf(run, "error").empty());
  bool logged_buckets = false, logged_masks = false;
  for (const auto& log : EventsOf(run, "log")) {
    const std::string message = log["message"].get<std::string>();
    logged_buckets |= message.find("32x48 (3 images), 48x32 (2 images)") != std::string::npos;
    logged_masks |= message.find("masked loss: 2 of 5 images") != std::string::npos;
  }
  EXPECT_TRUE(logged_buckets);
  EXPECT_TRUE(logged_masks);
  std::vector<nlohmann::json> progress = EventsOf(run, "progress");
  ASSERT_EQ(progress.size(), 5u);
  for (const auto& event : progress) EXPECT_TRUE(event["loss"].is_number());
  ASSERT_FALSE(run.events.empty());
  EXPECT_EQ(run.events.back()["event"], "done");
  EXPECT_EQ(run.events.back()["steps"], 5);

  ASSERT_TRUE(std::filesystem::exists(root_ / "out" / "lora.safetensors"));
  auto model = models::LoadDiffusersModel(root_ / "model");
  ASSERT_TRUE(model.ok()) << model.status();
  auto info = lora::LoadLora(root_ / "out" / "lora.safetensors", {{"unet", model->unet.get()}});
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->rank, 2);
  EXPECT_EQ(info->training_parameters["masked_loss"], "true");
}

TEST_F(TrainerMainTest, MaskedLossThatIsNotABooleanIsAUserErrorNamingTheField) {
  data::testing::WriteJson(root_ / "bad.json", {{"method", "lora"}, {"masked_loss", "yes"}});
  ChildResult run = RunTrainer({"train", "--spec", (root_ / "bad.json").string(), "--dataset",
                                (root_ / "dataset").string(), "--model",
                                (root_ / "no-model").string(), "--output",
                                (root_ / "out").string()},
                               root_ / "bad.stderr");
  EXPECT_EQ(run.exit_code, 2);
  std::vector<nlohmann::json> errors = EventsOf(run, "error");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0]["class"], "user");
  EXPECT_THAT(errors[0]["message"].get<std::string>(), HasSubstr("masked_loss"));
}

TEST_F(TrainerMainTest, QuietKeepsTheEventsAndLeavesStderrEmpty) {
  ChildResult run = RunTrainer({"--quiet", "init-model", "--preset", "tiny", "--output",
                                (root_ / "quiet-model").string()},
                               root_ / "quiet.stderr");
  ASSERT_EQ(run.exit_code, 0);
  EXPECT_FALSE(EventsOf(run, "log").empty());
  EXPECT_EQ(EventsOf(run, "done").size(), 1u);
  std::ifstream stderr_file(root_ / "quiet.stderr");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(stderr_file), {}), "");

  ChildResult refused = RunTrainer({"--quiet", "train", "--spec", (root_ / "missing.json").string(),
                                    "--dataset", (root_ / "dataset").string(), "--model",
                                    (root_ / "no-model").string(), "--output",
                                    (root_ / "out").string()},
                                   root_ / "quiet-refused.stderr");
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_EQ(EventsOf(refused, "error").size(), 1u);
  std::ifstream refused_stderr(root_ / "quiet-refused.stderr");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(refused_stderr), {}), "");
}

TEST_F(TrainerMainTest, BadSpecExitsTwoWithAnErrorNamingTheField) {
  data::testing::WriteJson(root_ / "bad.json", {{"method", "lora"}, {"max_train_steps", -5}});
  ChildResult run = RunTrainer({"train", "--spec", (root_ / "bad.json").string(), "--dataset",
                                (root_ / "dataset").string(), "--model",
                                (root_ / "no-model").string(), "--output",
                                (root_ / "out").string()},
                               root_ / "bad.stderr");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_TRUE(run.non_json_lines.empty());
  std::vector<nlohmann::json> errors = EventsOf(run, "error");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0]["class"], "user");
  EXPECT_THAT(errors[0]["message"].get<std::string>(), HasSubstr("max_train_steps"));
  EXPECT_FALSE(std::filesystem::exists(root_ / "out" / "lora.safetensors"));
}

TEST_F(TrainerMainTest, MissingDatasetAndUsageErrorsAreUserErrors) {
  data::testing::WriteJson(root_ / "spec.json", {{"method", "lora"}, {"max_train_steps", 2}});
  ChildResult run = RunTrainer({"train", "--spec", (root_ / "spec.json").string(), "--dataset",
                                (root_ / "missing").string(), "--model",
                                (root_ / "model").string(), "--output",
                                (root_ / "out").string()},
                               root_ / "missing.stderr");
  EXPECT_EQ(run.exit_code, 2);
  ASSERT_EQ(EventsOf(run, "error").size(), 1u);
  EXPECT_THAT(EventsOf(run, "error")[0]["message"].get<std::string>(), HasSubstr("missing"));

  ChildResult usage = RunTrainer({"train", "--spec", "x.json"}, root_ / "usage.stderr");
  EXPECT_EQ(usage.exit_code, 2);
  ASSERT_EQ(EventsOf(usage, "error").size(), 1u);
  EXPECT_THAT(EventsOf(usage, "error")[0]["message"].get<std::string>(), HasSubstr("--dataset"));

  ChildResult help = RunTrainer({"train", "--help"}, root_ / "help.stderr");
  EXPECT_EQ(help.exit_code, 0);
}

nlohmann::json ReadResult(const std::filesystem::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in, nullptr, false);
}

TEST_F(TrainerMainTest, KohyaFormatWritesKohyaKeysAndSaysSo) {
  ASSERT_TRUE(models::SaveTinyModel(root_ / "model", 3).ok());
  data::testing::WriteJson(root_ / "spec.json", {{"method", "lora"},
                                                 {"max_train_steps", 2},
                                                 {"lora_rank", 2},
                                                 {"lora_format", "kohya"},
                                                 {"token_string", "TOK"}});
  ChildResult run = RunTrainer({"train", "--spec", (root_ / "spec.json").string(), "--dataset",
                                (root_ / "dataset").string(), "--model",
                                (root_ / "model").string(), "--output",
                                (root_ / "out").string(), "--device", "cpu"},
                               root_ / "train.stderr");
  ASSERT_EQ(run.exit_code, 0) << std::ifstream(root_ / "train.stderr").rdbuf();
  EXPECT_EQ(run.events.back()["format"], lora::kKohyaLoraFormat);
  EXPECT_EQ(ReadResult(root_ / "out" / "result.json")["format"], lora::kKohyaLoraFormat);

  auto model = models::LoadDiffusersModel(root_ / "model");
  ASSERT_TRUE(model.ok()) << model.status();
  auto info = lora::LoadLora(root_ / "out" / "lora.safetensors", {{"unet", model->unet.get()}});
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->key_style, lora::LoraKeyStyle::kKohya);
  EXPECT_EQ(info->base_model_version, lora::BaseModelVersion::kSd1);
  EXPECT_EQ(info->trigger_phrase, "TOK");
  EXPECT_EQ(info->training_parameters["max_train_steps"], "2");
  auto tensors = models::LoadSafetensors(root_ / "out" / "lora.safetensors");
  ASSERT_TRUE(tensors.ok()) << tensors.status();
  for (const auto& [name, tensor] : *tensors) {
    EXPECT_EQ(name.rfind("lora_unet_", 0), 0u) << name;
  }
}

class SingleFileTrainerTest : public TrainerMainTest {
 protected:
  void SetUp() override {
    TrainerMainTest::SetUp();
    original_ = models::single_file_test::MakeSd1();
    checkpoint_ = root_ / "v1-tiny.safetensors";
    ASSERT_TRUE(models::SaveSafetensors(checkpoint_, original_.file).ok());
    ASSERT_TRUE(tokenizer::WriteByteLevelTokenizer(root_ / "tokenizer").ok());
    data::testing::WriteJson(root_ / "spec.json", {{"method", "lora"},
                                                   {"max_train_steps", 2},
                                                   {"lora_rank", 2},
                                                   {"lora_format", "kohya"}});
  }
  models::single_file_test::Original original_;
  std::filesystem::path checkpoint_;
};

TEST_F(SingleFileTrainerTest, TrainsOnASingleFileCheckpoint) {
  ChildResult run = RunTrainer(
      {"train", "--spec", (root_ / "spec.json").string(), "--dataset",
       (root_ / "dataset").string(), "--model", checkpoint_.string(), "--tokenizer",
       (root_ / "tokenizer").string(), "--output", (root_ / "out").string(), "--device", "cpu"},
      root_ / "train.stderr");
  ASSERT_EQ(run.exit_code, 0) << std::ifstream(root_ / "train.stderr").rdbuf();
  bool logged_conversion = false;
  for (const auto& log : EventsOf(run, "log")) {
    logged_conversion |= log["message"].get<std::string>().find("converted single-file") == 0;
  }
  EXPECT_TRUE(logged_conversion);
  auto model = models::LoadSingleFileCheckpoint(checkpoint_, root_ / "tokenizer");
  ASSERT_TRUE(model.ok()) << model.status();
  auto info = lora::LoadLora(root_ / "out" / "lora.safetensors", {{"unet", model->unet.get()}});
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->base_model, "v1-tiny.safetensors");
}

TEST_F(SingleFileTrainerTest, WithoutATokenizerItIsAUserErrorNamingTheOption) {
  ChildResult run = RunTrainer(
      {"train", "--spec", (root_ / "spec.json").string(), "--dataset",
       (root_ / "dataset").string(), "--model", checkpoint_.string(), "--output",
       (root_ / "out").string(), "--device", "cpu"},
      root_ / "train.stderr");
  EXPECT_EQ(run.exit_code, 2);
  ASSERT_EQ(EventsOf(run, "error").size(), 1u);
  EXPECT_THAT(EventsOf(run, "error")[0]["message"].get<std::string>(), HasSubstr("--tokenizer"));
}

TEST_F(SingleFileTrainerTest, ConvertWritesADiffusersDirectory) {
  ChildResult run = RunTrainer({"convert", "--checkpoint", checkpoint_.string(), "--tokenizer",
                                (root_ / "tokenizer").string(), "--prediction-type",
                                "v_prediction", "--dtype", "float32", "--output",
                                (root_ / "converted").string()},
                               root_ / "convert.stderr");
  ASSERT_EQ(run.exit_code, 0) << std::ifstream(root_ / "convert.stderr").rdbuf();
  EXPECT_EQ(run.events.back()["pipeline"], "StableDiffusionPipeline");
  auto converted = models::LoadDiffusersModel(root_ / "converted");
  ASSERT_TRUE(converted.ok()) << converted.status();
  EXPECT_EQ(converted->scheduler_config["prediction_type"], "v_prediction");
  torch::NoGradGuard no_grad;
  torch::Tensor sample = torch::randn({1, 4, 8, 8});
  torch::Tensor t = torch::tensor({10}, torch::kLong);
  torch::Tensor context = torch::randn({1, 5, original_.unet->config().cross_attention_dim});
  EXPECT_TRUE(torch::allclose(converted->unet(sample, t, context), original_.unet(sample, t, context),
                              1e-5, 1e-6));

  ChildResult again = RunTrainer({"convert", "--checkpoint", checkpoint_.string(), "--tokenizer",
                                  (root_ / "tokenizer").string(), "--output",
                                  (root_ / "converted").string()},
                                 root_ / "again.stderr");
  EXPECT_NE(again.exit_code, 0);
  ASSERT_EQ(EventsOf(again, "error").size(), 1u);
  EXPECT_THAT(EventsOf(again, "error")[0]["message"].get<std::string>(),
              HasSubstr("already exists"));
}

}  // namespace
}  // namespace easel
