#include "trainer/models/diffusers_model.h"

#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/remove_tree.h"
#include "trainer/models/weights.h"

namespace easel::models {
namespace {

using ::testing::HasSubstr;

class DiffusersModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("diffusers_model_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { easel::RemoveTree(dir_).IgnoreError(); }
  std::filesystem::path dir_;
};

uintmax_t DirectorySize(const std::filesystem::path& dir) {
  uintmax_t total = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) total += entry.file_size();
  }
  return total;
}

TEST_F(DiffusersModelTest, TinyPresetSavesAndLoadsBackIdentically) {
  ASSERT_TRUE(SaveTinyModel(dir_ / "a", 42).ok());
  EXPECT_LT(DirectorySize(dir_ / "a"), 8u << 20);  // about 6 MB, fp32
  for (const char* file : {"model_index.json", "unet/config.json",
                           "unet/diffusion_pytorch_model.safetensors", "text_encoder/config.json",
                           "text_encoder/model.safetensors", "vae/config.json",
                           "vae/diffusion_pytorch_model.safetensors", "tokenizer/vocab.json",
                           "tokenizer/merges.txt", "tokenizer/tokenizer_config.json",
                           "tokenizer/special_tokens_map.json", "scheduler/scheduler_config.json"}) {
    EXPECT_TRUE(std::filesystem::exists(dir_ / "a" / file)) << file;
  }
  auto model = LoadDiffusersModel(dir_ / "a");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->model_index["_class_name"], "StableDiffusionPipeline");
  EXPECT_EQ(model->scheduler_config["beta_schedule"], "scaled_linear");
  EXPECT_EQ(model->tokenizer->vocab_size(), model->text_encoder->config().vocab_size);

  // Loaded parameters equal the stored tensors exactly.
  auto stored = LoadSafetensors(dir_ / "a" / "unet" / "diffusion_pytorch_model.safetensors");
  ASSERT_TRUE(stored.ok());
  auto state = StateDict(*model->unet);
  ASSERT_EQ(state.size(), stored->size());
  for (const auto& [name, tensor] : state) EXPECT_TRUE(torch::equal(tensor, stored->at(name))) << name;

  // The same seed gives the same weights, so a second save loads to identical outputs.
  ASSERT_TRUE(SaveTinyModel(dir_ / "b", 42).ok());
  auto again = LoadDiffusersModel(dir_ / "b");
  ASSERT_TRUE(again.ok());
  torch::NoGradGuard no_grad;
  auto ids = torch::tensor(model->tokenizer->EncodePadded("a photo of TOK"), torch::kLong).unsqueeze(0);
  torch::Tensor context = model->text_encoder(ids).last_hidden_state;
  EXPECT_TRUE(torch::equal(context, again->text_encoder(ids).last_hidden_state));
  torch::Tensor latents = torch::randn({1, 4, 32, 32});
  torch::Tensor t = torch::tensor({999}, torch::kLong);
  EXPECT_TRUE(torch::equal(model->unet(latents, t, context), again->unet(latents, t, context)));
  torch::Tensor pixels = model->vae->Decode(latents);
  EXPECT_EQ(pixels.sizes(), (std::vector<int64_t>{1, 3, 64, 64}));
  EXPECT_TRUE(torch::equal(pixels, again->vae->Decode(latents)));

  ASSERT_TRUE(SaveTinyModel(dir_ / "c", 43).ok());
  auto other = LoadDiffusersModel(dir_ / "c");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(torch::equal(model->unet(latents, t, context), other->unet(latents, t, context)));
}

TEST_F(DiffusersModelTest, MissingPiecesAreNamed) {
  ASSERT_TRUE(SaveTinyModel(dir_, 1).ok());
  auto weights = dir_ / "vae" / "diffusion_pytorch_model.safetensors";
  auto state = LoadSafetensors(weights);
  ASSERT_TRUE(state.ok());
  state->erase("decoder.conv_out.weight");
  ASSERT_TRUE(SaveSafetensors(weights, *state).ok());
  auto model = LoadDiffusersModel(dir_);
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(model.status().message(), HasSubstr("decoder.conv_out.weight"));
  EXPECT_THAT(model.status().message(), HasSubstr("vae"));

  std::filesystem::remove(weights);
  model = LoadDiffusersModel(dir_);
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(model.status().message(), HasSubstr("vae"));

  std::filesystem::remove(dir_ / "model_index.json");
  EXPECT_THAT(LoadDiffusersModel(dir_).status().message(), HasSubstr("model_index.json"));
}

}  // namespace
}  // namespace easel::models
