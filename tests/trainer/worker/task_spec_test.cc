#include "trainer/worker/task_spec.h"

#include <filesystem>
#include <fstream>

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
  EXPECT_EQ(spec->trainer_spec["base_model"], "easel/tiny:v1");
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
                                            "true"}));
  auto trainer = TrainerArgs("/bin/tr", "/w/spec.json", "/w/prepared", "/m", "/w/out");
  EXPECT_EQ(trainer[1], "train");
  EXPECT_EQ(trainer.back(), "/w/out");
}

}  // namespace
}  // namespace easel::worker
