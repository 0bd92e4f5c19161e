// Checkpoints and exact resume: a run interrupted and resumed from any checkpoint ends with the
// very weights of a run that never stopped (CPU, bit for bit).

#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/remove_tree.h"
#include "common/safetensors.h"
#include "nlohmann/json.hpp"
#include "tests/trainer/data/dataset_fixture.h"
#include "trainer/methods/lora_training.h"
#include "trainer/methods/training_checkpoint.h"
#include "trainer/models/diffusers_model.h"

namespace easel::methods {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using Weights = std::map<std::string, torch::Tensor>;

void ExpectEqualWeights(const Weights& actual, const Weights& expected) {
  ASSERT_FALSE(expected.empty());
  ASSERT_EQ(actual.size(), expected.size());
  for (const auto& [name, value] : expected) {
    EXPECT_TRUE(torch::equal(actual.at(name), value)) << name;
  }
}

std::vector<std::string> Entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class CheckpointResumeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(data::testing::FreshTempDir("checkpoint"));
    ASSERT_TRUE(models::SaveTinyModel(*root_ / "model", 1234, models::TinyPreset::kTiny).ok());
    data::testing::WriteSyntheticDataset(*root_ / "dataset", 5, 32);
  }
  static void TearDownTestSuite() {
    easel::RemoveTree(*root_).IgnoreError();
    delete root_;
  }

  void SetUp() override {
    dir_ = *root_ / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::create_directories(dir_);
    auto dataset = data::LoadPreparedDataset(*root_ / "dataset");
    ASSERT_TRUE(dataset.ok()) << dataset.status();
    dataset_ = *std::move(dataset);
    spec_.max_train_steps = 6;
    spec_.train_batch_size = 2;  // 5 images: batches run across epoch boundaries
    spec_.lora_rank = 2;
    spec_.learning_rate = 1e-3;
    spec_.lr_warmup_steps = 3;
    spec_.seed = 21;
    spec_.checkpointing_steps = 2;
  }

  // Trains a fresh copy of the tiny model and returns its LoRA tensors.
  absl::StatusOr<Weights> Train(const TrainingSpec& spec, const CheckpointOptions& checkpoints,
                                const TrainingCallbacks& callbacks = {}) {
    auto model = models::LoadDiffusersModel(*root_ / "model");
    if (!model.ok()) return model.status();
    absl::StatusOr<LoraTrainingResult> result =
        TrainLora(*model, dataset_, spec, callbacks, torch::kCPU, checkpoints);
    if (!result.ok()) return result.status();
    Weights weights;
    for (const auto& item : model->unet->named_parameters()) {
      if (item.key().find("lora") != std::string::npos) weights[item.key()] = item.value();
    }
    return weights;
  }

  static inline fs::path* root_ = nullptr;
  fs::path dir_;
  data::PreparedDataset dataset_;
  TrainingSpec spec_;
};

TEST_F(CheckpointResumeTest, ResumingFromAnyCheckpointEndsWithTheUninterruptedWeights) {
  std::vector<int64_t> announced;
  auto uninterrupted =
      Train(spec_, {.dir = dir_ / "checkpoints"},
            {.on_checkpoint = [&](const fs::path&, int64_t step) { announced.push_back(step); }});
  ASSERT_TRUE(uninterrupted.ok()) << uninterrupted.status();
  EXPECT_THAT(announced, ElementsAre(2, 4));  // none at the last step: the weights follow
  EXPECT_THAT(Entries(dir_ / "checkpoints"), ElementsAre("step-00000002", "step-00000004"));

  for (const char* checkpoint : {"step-00000002", "step-00000004"}) {
    std::vector<std::string> logs;
    auto resumed = Train(spec_,
                         {.dir = dir_ / "resumed", .resume = dir_ / "checkpoints" / checkpoint},
                         {.on_log = [&](const std::string& line) { logs.push_back(line); }});
    ASSERT_TRUE(resumed.ok()) << resumed.status();
    ExpectEqualWeights(*resumed, *uninterrupted);
    EXPECT_THAT(logs, testing::Contains(HasSubstr(std::string("resuming from checkpoint ") +
                                                  checkpoint)));
  }
}

TEST_F(CheckpointResumeTest, AStopSavesACheckpointToResumeFrom) {
  auto uninterrupted = Train(spec_, {});
  ASSERT_TRUE(uninterrupted.ok()) << uninterrupted.status();

  std::atomic<bool> stop{false};
  spec_.checkpointing_steps = 4;
  auto stopped = Train(
      spec_, {.dir = dir_ / "checkpoints", .stop_requested = &stop},
      {.on_progress = [&](const ProgressEvent& event) { stop.store(event.step == 3); }});
  ASSERT_EQ(stopped.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(stopped.status().message(), "at step 3 of 6; checkpoint step-00000003 saved");

  auto resumed = Train(spec_, {.resume = dir_ / "checkpoints" / "step-00000003"});
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  ExpectEqualWeights(*resumed, *uninterrupted);
}

TEST_F(CheckpointResumeTest, OnlyTheNewestTwoCompleteCheckpointsStay) {
  const fs::path checkpoints = dir_ / "checkpoints";
  fs::create_directories(checkpoints / ".step-00000009.partial");  // a save cut short
  spec_.checkpointing_steps = 1;
  ASSERT_TRUE(Train(spec_, {.dir = checkpoints}).ok());
  EXPECT_THAT(Entries(checkpoints), ElementsAre("step-00000004", "step-00000005"));
  for (const char* file : {"COMPLETE", "training_state.json", "trainable.safetensors",
                           "optimizer_rng.safetensors"}) {
    EXPECT_TRUE(fs::is_regular_file(checkpoints / "step-00000005" / file)) << file;
  }
}

TEST_F(CheckpointResumeTest, IncompleteOrForeignCheckpointsAreRefusedNamingWhy) {
  const fs::path checkpoints = dir_ / "checkpoints";
  ASSERT_TRUE(Train(spec_, {.dir = checkpoints}).ok());

  TrainingSpec other_seed = spec_;
  other_seed.seed = 22;
  auto refused = Train(other_seed, {.resume = checkpoints / "step-00000004"});
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("was written by a different training: seed is 21 there and 22 here"));

  TrainingSpec other_rank = spec_;
  other_rank.lora_rank = 3;
  refused = Train(other_rank, {.resume = checkpoints / "step-00000004"});
  EXPECT_THAT(refused.status().message(), HasSubstr("lora_rank is 2 there and 3 here"));

  fs::remove(checkpoints / "step-00000004" / "COMPLETE");
  refused = Train(spec_, {.resume = checkpoints / "step-00000004"});
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("step-00000004 is incomplete (no COMPLETE"));
}

// The binary: SIGTERM after the first step stops it with exit status 3, the "interrupted" error
// event and a checkpoint; `--resume` from it writes the uninterrupted weights.
class TrainerSignalTest : public CheckpointResumeTest {
 protected:
  static fs::path TrainerBinary() {
    const char* build_dir = std::getenv("EASEL_BUILD_DIR");
    return fs::path(build_dir != nullptr ? build_dir : ".") / "trainer" / "easel-trainer";
  }

  struct Run {
    int exit_code = -1;
    std::vector<nlohmann::json> events;
  };

  // Runs easel-trainer with `args`; with `terminate_after_progress`, sends SIGTERM when the
  // first progress event arrives.
  Run RunTrainer(const std::vector<std::string>& args, bool terminate_after_progress) {
    std::string command = "echo $$; exec '" + TrainerBinary().string() + "' --quiet";
    for (const std::string& arg : args) command += " '" + arg + "'";
    command += " 2>/dev/null";
    FILE* pipe = popen(command.c_str(), "r");
    Run run;
    if (pipe == nullptr) return run;
    char line[65536];
    pid_t pid = 0;
    bool signalled = false;
    while (std::fgets(line, sizeof(line), pipe) != nullptr) {
      if (pid == 0) {
        pid = std::atoi(line);
        continue;
      }
      nlohmann::json event = nlohmann::json::parse(line, nullptr, false);
      if (!event.is_object()) continue;
      if (terminate_after_progress && !signalled && event["event"] == "progress") {
        kill(pid, SIGTERM);
        signalled = true;
      }
      run.events.push_back(std::move(event));
    }
    const int status = pclose(pipe);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
  }

  static Weights ReadLora(const fs::path& path) {
    Weights weights;
    auto file = safetensors::File::Open(path);
    EXPECT_TRUE(file.ok()) << file.status();
    if (!file.ok()) return weights;
    for (const safetensors::TensorView& view : (*file)->tensors()) {
      weights[view.name] =
          torch::from_blob(const_cast<uint8_t*>(view.data), view.shape, torch::kFloat32).clone();
    }
    return weights;
  }

  std::vector<std::string> TrainArgs(const std::string& output) {
    return {"train", "--spec", (dir_ / "spec.json").string(), "--dataset",
            (*root_ / "dataset").string(), "--model", (*root_ / "model").string(), "--output",
            (dir_ / output).string(), "--device", "cpu"};
  }
};

TEST_F(TrainerSignalTest, SigtermSavesACheckpointAndResumingFinishesTheSameWeights) {
  data::testing::WriteJson(dir_ / "spec.json", {{"method", "lora"},
                                                {"max_train_steps", 40},
                                                {"learning_rate", 1e-3},
                                                {"lora_rank", 2},
                                                {"seed", 5},
                                                {"checkpointing_steps", 1000}});
  Run stopped = RunTrainer(TrainArgs("stopped"), /*terminate_after_progress=*/true);
  ASSERT_EQ(stopped.exit_code, 3);
  ASSERT_FALSE(stopped.events.empty());
  const nlohmann::json& error = stopped.events.back();
  EXPECT_EQ(error["event"], "error");
  EXPECT_EQ(error["class"], "interrupted");
  EXPECT_THAT(error.value("message", ""), HasSubstr("stopped by SIGTERM at step "));
  nlohmann::json checkpoint;
  for (const nlohmann::json& event : stopped.events) {
    if (event["event"] == "checkpoint") checkpoint = event;
  }
  ASSERT_TRUE(checkpoint.is_object()) << "no checkpoint event";
  const fs::path saved = checkpoint.value("path", "");
  EXPECT_EQ(saved.parent_path(), dir_ / "stopped" / "checkpoints");
  EXPECT_TRUE(fs::is_regular_file(saved / "COMPLETE"));

  std::vector<std::string> resume_args = TrainArgs("resumed");
  resume_args.insert(resume_args.end(), {"--resume", saved.string()});
  Run resumed = RunTrainer(resume_args, /*terminate_after_progress=*/false);
  ASSERT_EQ(resumed.exit_code, 0);
  ASSERT_EQ(resumed.events.back()["event"], "done");
  Run uninterrupted = RunTrainer(TrainArgs("uninterrupted"), /*terminate_after_progress=*/false);
  ASSERT_EQ(uninterrupted.exit_code, 0);
  ExpectEqualWeights(ReadLora(dir_ / "resumed" / "lora.safetensors"),
                     ReadLora(dir_ / "uninterrupted" / "lora.safetensors"));
}

}  // namespace
}  // namespace easel::methods
