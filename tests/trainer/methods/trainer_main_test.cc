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

#include "nlohmann/json.hpp"
#include "tests/trainer/data/dataset_fixture.h"
#include "trainer/lora/lora.h"
#include "trainer/models/diffusers_model.h"
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

}  // namespace
}  // namespace easel
