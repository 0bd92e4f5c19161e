#include "trainer/sampling/sample_images.h"

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/remove_tree.h"
#include "trainer/models/diffusers_model.h"
#include "trainer/sampling/png_writer.h"

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>

namespace easel::sampling {
namespace {

using ::testing::HasSubstr;

// The tiny presets (random weights from a fixed seed, 64x64 images, 32x32 latents).
class SampleImagesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                      ("sample_images_test_" + std::to_string(::getpid())));
    easel::RemoveTree(*root_).IgnoreError();
    ASSERT_TRUE(models::SaveTinyModel(*root_ / "sd", 11).ok());
    ASSERT_TRUE(models::SaveTinyModel(*root_ / "sdxl", 11, models::TinyPreset::kTinySdxl).ok());
    auto sd = models::LoadDiffusersModel(*root_ / "sd");
    ASSERT_TRUE(sd.ok()) << sd.status();
    sd_ = new models::DiffusersModel(*std::move(sd));
    auto sdxl = models::LoadDiffusersModel(*root_ / "sdxl");
    ASSERT_TRUE(sdxl.ok()) << sdxl.status();
    sdxl_ = new models::DiffusersModel(*std::move(sdxl));
  }
  static void TearDownTestSuite() {
    delete sd_;
    delete sdxl_;
    easel::RemoveTree(*root_).IgnoreError();
    delete root_;
  }

  static SampleOptions Options() {
    SampleOptions options;
    options.prompts = {"a photo of a cat", "a red house"};
    options.negative_prompt = "blurry";
    options.num_inference_steps = 3;
    options.guidance_scale = 5.0;
    options.seed = 1;
    options.resolution = 32;  // 16x16 latents keep the UNet's attention cheap
    return options;
  }

  static std::vector<torch::Tensor> Generate(const models::DiffusersModel& model,
                                             const SampleOptions& options) {
    auto images = GenerateSamples(model, options);
    EXPECT_TRUE(images.ok()) << images.status();
    return images.ok() ? *std::move(images) : std::vector<torch::Tensor>{};
  }

  static std::filesystem::path* root_;
  static models::DiffusersModel* sd_;
  static models::DiffusersModel* sdxl_;
};
std::filesystem::path* SampleImagesTest::root_ = nullptr;
models::DiffusersModel* SampleImagesTest::sd_ = nullptr;
models::DiffusersModel* SampleImagesTest::sdxl_ = nullptr;

TEST_F(SampleImagesTest, SameSeedSameImages) {
  for (SamplerKind sampler : {SamplerKind::kEuler, SamplerKind::kDdim}) {
    SampleOptions options = Options();
    options.sampler = sampler;
    std::vector<torch::Tensor> first = Generate(*sd_, options);
    std::vector<torch::Tensor> second = Generate(*sd_, options);
    ASSERT_EQ(first.size(), 2u);
    ASSERT_EQ(second.size(), 2u);
    for (size_t i = 0; i < first.size(); ++i) {
      EXPECT_EQ(first[i].sizes(), (std::vector<int64_t>{32, 32, 3}));
      EXPECT_EQ(first[i].scalar_type(), torch::kUInt8);
      EXPECT_TRUE(torch::equal(first[i], second[i])) << i;
    }
    EXPECT_FALSE(torch::equal(first[0], first[1]));
  }
}

TEST_F(SampleImagesTest, DefaultResolutionIsTheUNetSampleSizeTimesTheVaeFactor) {
  SampleOptions options = Options();
  options.prompts = {"a cat"};
  options.resolution = 0;
  options.num_inference_steps = 1;
  std::vector<torch::Tensor> images = Generate(*sd_, options);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].sizes(), (std::vector<int64_t>{64, 64, 3}));  // 32 * 2
}

TEST_F(SampleImagesTest, AnotherSeedOrGuidanceGivesAnotherImage) {
  SampleOptions options = Options();
  std::vector<torch::Tensor> base = Generate(*sd_, options);
  options.seed = 2;
  std::vector<torch::Tensor> reseeded = Generate(*sd_, options);
  options.seed = 1;
  options.guidance_scale = 1.0;  // no classifier-free guidance
  std::vector<torch::Tensor> unguided = Generate(*sd_, options);
  ASSERT_EQ(base.size(), 2u);
  ASSERT_EQ(reseeded.size(), 2u);
  ASSERT_EQ(unguided.size(), 2u);
  EXPECT_FALSE(torch::equal(base[0], reseeded[0]));
  EXPECT_FALSE(torch::equal(base[0], unguided[0]));
}

TEST_F(SampleImagesTest, ResolutionIsHonouredAndChecked) {
  SampleOptions options = Options();
  options.prompts = {"a cat"};
  options.resolution = 48;
  std::vector<torch::Tensor> images = Generate(*sd_, options);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].sizes(), (std::vector<int64_t>{48, 48, 3}));
  options.resolution = 30;  // latents must halve through the tiny UNet: multiples of 4
  auto refused = GenerateSamples(*sd_, options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("resolution"));
}

TEST_F(SampleImagesTest, BadRequestsAreRefused) {
  SampleOptions options = Options();
  options.prompts.clear();
  auto no_prompts = GenerateSamples(*sd_, options);
  ASSERT_FALSE(no_prompts.ok());
  EXPECT_THAT(std::string(no_prompts.status().message()), HasSubstr("prompts"));
  options = Options();
  options.num_inference_steps = 0;
  auto no_steps = GenerateSamples(*sd_, options);
  ASSERT_FALSE(no_steps.ok());
  EXPECT_THAT(std::string(no_steps.status().message()), HasSubstr("num_inference_steps"));
}

TEST_F(SampleImagesTest, ModulesGoBackToTheirTrainingMode) {
  sd_->unet->train();
  sd_->vae->eval();
  SampleOptions options = Options();
  options.prompts = {"a cat"};
  ASSERT_EQ(Generate(*sd_, options).size(), 1u);
  EXPECT_TRUE(sd_->unet->is_training());
  EXPECT_FALSE(sd_->vae->is_training());
  sd_->unet->eval();
}

TEST_F(SampleImagesTest, SdxlIsDeterministicAndSeedDependent) {
  SampleOptions options = Options();
  options.negative_prompt.clear();  // force_zeros_for_empty_prompt: zero uncond embeddings
  std::vector<torch::Tensor> first = Generate(*sdxl_, options);
  std::vector<torch::Tensor> second = Generate(*sdxl_, options);
  options.seed = 9;
  std::vector<torch::Tensor> reseeded = Generate(*sdxl_, options);
  ASSERT_EQ(first.size(), 2u);
  ASSERT_EQ(second.size(), 2u);
  ASSERT_EQ(reseeded.size(), 2u);
  EXPECT_EQ(first[0].sizes(), (std::vector<int64_t>{32, 32, 3}));
  EXPECT_TRUE(torch::equal(first[0], second[0]));
  EXPECT_TRUE(torch::equal(first[1], second[1]));
  EXPECT_FALSE(torch::equal(first[0], reseeded[0]));
}

TEST_F(SampleImagesTest, PngDecodesToTheSamePixels) {
  SampleOptions options = Options();
  options.prompts = {"a cat"};
  std::vector<torch::Tensor> images = Generate(*sd_, options);
  ASSERT_EQ(images.size(), 1u);
  ASSERT_GT(images[0].to(torch::kFloat32).std().item<float>(), 0);  // not a flat image
  const std::filesystem::path path = *root_ / "sample.png";
  ASSERT_TRUE(WritePng(path, images[0]).ok());
  int width = 0, height = 0, channels = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> decoded(
      stbi_load(path.c_str(), &width, &height, &channels, 3), stbi_image_free);
  ASSERT_NE(decoded, nullptr) << stbi_failure_reason();
  ASSERT_EQ(width, 32);
  ASSERT_EQ(height, 32);
  torch::Tensor pixels = torch::from_blob(decoded.get(), {32, 32, 3}, torch::kUInt8).clone();
  EXPECT_TRUE(torch::equal(pixels, images[0]));
}

TEST_F(SampleImagesTest, WritePngRefusesNonImages) {
  absl::Status status = WritePng(*root_ / "bad.png", torch::zeros({4, 4, 3}, torch::kFloat32));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  status = WritePng(*root_ / "no-such-dir" / "x.png", torch::zeros({4, 4, 3}, torch::kUInt8));
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace easel::sampling
