#include "trainer/worker/task_spec.h"

#include <filesystem>
#include <fstream>

#include "common/preprocess_inputs.h"
#include "common/remove_tree.h"
#include "gtest/gtest.h"

namespace easel::worker {
namespace {

easel::v1::Task MakeTask(const std::filesystem::path& model_dir) {
  easel::v1::Task task;
  task.set_base_model_dir(model_dir.string());
  task.set_base_version("easel/tiny:v1");
  auto& fields = *task.mutable_input()->mutable_fields();
  fields["max_train_steps"].set_number_value(30);
  fields["lora_rank"].set_number_value(4);
  fields["seed"].set_number_value(7);
  fields["token_string"].set_string_value("SKS");
  return task;
}

TEST(TaskSpecTest, ResolutionComesFromTheBaseModelWhenNotGiven) {
  auto dir = std::filesystem::temp_directory_path() / "easel_task_spec_test";
  std::filesystem::create_directories(dir / "vae");
  std::ofstream(dir / "vae" / "config.json") << R"({"sample_size": 64})";
  auto spec = MakeTaskSpec(MakeTask(dir));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->resolution, 64);
  EXPECT_EQ(spec->token_string, "SKS");
  EXPECT_EQ(spec->caption_prefix, "a photo of SKS");
  EXPECT_EQ(spec->trainer_spec["max_train_steps"], 30);
  EXPECT_TRUE(spec->trainer_spec["max_train_steps"].is_number_integer());
  EXPECT_EQ(spec->trainer_spec["lora_alpha"], 4.0);
  EXPECT_EQ(spec->trainer_spec["seed"], 7);
  // The trainer names the base model from the model it loads; the spec carries no copy.
  EXPECT_FALSE(spec->trainer_spec.contains("base_model"));
  EXPECT_EQ(spec->trainer_spec["checkpointing_steps"], 0);
  EXPECT_EQ(spec->trainer_spec["lora_format"], "diffusers");
  EXPECT_EQ(spec->trainer_spec["mixed_precision"], "auto");
  easel::RemoveTree(dir).IgnoreError();
}

TEST(TaskSpecTest, ExplicitResolutionWinsAndArgumentsNameEveryPath) {
  easel::v1::Task task = MakeTask("/nonexistent");
  (*task.mutable_input()->mutable_fields())["resolution"].set_number_value(128);
  (*task.mutable_input()->mutable_fields())["lora_format"].set_string_value("kohya");
  (*task.mutable_input()->mutable_fields())["use_face_detection_instead"].set_bool_value(true);
  auto spec = MakeTaskSpec(task);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->resolution, 128);
  EXPECT_EQ(spec->trainer_spec["lora_format"], "kohya");
  auto args = PreprocessArgs(*spec, "/bin/pre", "/w/a.zip", "/w/prepared");
  EXPECT_EQ(args, (std::vector<std::string>{"/bin/pre", "--archive", "/w/a.zip", "--output",
                                            "/w/prepared", "--resolution", "128",
                                            "--token-string", "SKS", "--caption-prefix",
                                            "a photo of SKS", "--crop-based-on-salience",
                                            "true", "--use-face-detection-instead",
                                            "true", "--aspect-buckets", "false"}));
  TrainerPaths paths{.spec_file = "/w/spec.json",
                     .dataset = "/w/prepared",
                     .model = "/m",
                     .output = "/w/out",
                     .checkpoints = "/w/checkpoints"};
  EXPECT_EQ(TrainerArgs("/bin/tr", paths),
            (std::vector<std::string>{"/bin/tr", "--quiet", "train", "--spec", "/w/spec.json",
                                      "--dataset", "/w/prepared", "--model", "/m", "--output",
                                      "/w/out", "--checkpoint-dir", "/w/checkpoints"}));
  paths.resume = "/w/resume/step-00000050";
  std::vector<std::string> resumed = TrainerArgs("/bin/tr", paths);
  ASSERT_GE(resumed.size(), 2u);
  EXPECT_EQ(resumed[resumed.size() - 2], "--resume");
  EXPECT_EQ(resumed.back(), "/w/resume/step-00000050");
}

// The coordinator caches prepared datasets by the digest of kPreprocessInputs: every other
// input must leave easel-preprocess's arguments alone, and each of those must change them.
TEST(TaskSpecTest, PreprocessArgumentsDependOnThePreprocessInputsOnly) {
  easel::v1::Task task = MakeTask("/nonexistent");
  auto& fields = *task.mutable_input()->mutable_fields();
  fields["resolution"].set_number_value(128);
  fields["caption_prefix"].set_string_value("a photo of SKS");
  fields["crop_based_on_salience"].set_bool_value(true);
  fields["use_face_detection_instead"].set_bool_value(false);
  fields["aspect_buckets"].set_bool_value(false);
  fields["masked_loss"].set_bool_value(true);
  fields["learning_rate"].set_number_value(1e-4);
  fields["lora_alpha"].set_number_value(4);
  fields["train_batch_size"].set_number_value(1);
  fields["lr_warmup_steps"].set_number_value(0);
  fields["lora_format"].set_string_value("diffusers");
  fields["mixed_precision"].set_string_value("auto");
  fields["clip_skip"].set_number_value(0);
  auto args = [](const easel::v1::Task& changed) {
    auto spec = MakeTaskSpec(changed);
    EXPECT_TRUE(spec.ok()) << spec.status();
    return PreprocessArgs(*spec, "/bin/pre", "/w/a.zip", "/w/prepared");
  };
  const std::vector<std::string> original = args(task);
  for (const auto& [name, value] : task.input().fields()) {
    easel::v1::Task changed = task;
    google::protobuf::Value& field = (*changed.mutable_input()->mutable_fields())[name];
    if (value.has_bool_value()) {
      field.set_bool_value(!value.bool_value());
    } else if (value.has_number_value()) {
      field.set_number_value(value.number_value() + 8);
    } else {
      field.set_string_value(name == "lora_format" ? "kohya"
                             : name == "mixed_precision" ? "bf16"
                                                          : value.string_value() + "X");
    }
    bool preprocess_input = false;
    for (std::string_view input : kPreprocessInputs) preprocess_input |= input == name;
    if (preprocess_input) {
      EXPECT_NE(args(changed), original) << name;
    } else {
      EXPECT_EQ(args(changed), original) << name;
    }
  }
}

}  // namespace
}  // namespace easel::worker
