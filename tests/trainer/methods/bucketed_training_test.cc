// Training on what `easel-preprocess --aspect-buckets` writes: images of several sizes, some
// with masks, original sizes and crop boxes in the manifest.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "common/remove_tree.h"
#include "tests/trainer/data/dataset_fixture.h"
#include "trainer/data/prepared_dataset.h"
#include "trainer/methods/lora_training.h"
#include "trainer/methods/masked_loss.h"
#include "trainer/methods/sdxl_time_ids.h"
#include "trainer/models/diffusers_model.h"

namespace easel::methods {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Five images in two buckets: 32x48 (images 0, 2, 3) and 48x32 (images 1, 4); images 0 and 4
// have masks. The dataset's resolution is 40.
const std::vector<data::testing::SyntheticImage> kImages = {
    {32, 48, true}, {48, 32, false}, {32, 48, false}, {32, 48, false}, {48, 32, true}};

template <models::TinyPreset kPreset>
class BucketedTrainingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* tag = kPreset == models::TinyPreset::kTiny ? "tiny" : "tiny-sdxl";
    root_ = new std::filesystem::path(data::testing::FreshTempDir(tag));
    ASSERT_TRUE(models::SaveTinyModel(*root_ / "model", 1234, kPreset).ok());
    data::testing::WriteBucketedDataset(*root_ / "dataset", kImages, 40);
  }
  static void TearDownTestSuite() {
    easel::RemoveTree(*root_).IgnoreError();
    delete root_;
  }

  void SetUp() override {
    auto model = models::LoadDiffusersModel(*root_ / "model");
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *std::move(model);
    auto dataset = data::LoadPreparedDataset(*root_ / "dataset");
    ASSERT_TRUE(dataset.ok()) << dataset.status();
    dataset_ = *std::move(dataset);
  }

  static inline std::filesystem::path* root_ = nullptr;
  models::DiffusersModel model_;
  data::PreparedDataset dataset_;
};

using SdBucketedTrainingTest = BucketedTrainingTest<models::TinyPreset::kTiny>;
using SdxlBucketedTrainingTest = BucketedTrainingTest<models::TinyPreset::kTinySdxl>;

TEST_F(SdBucketedTrainingTest, EncodesEachBucketAtItsOwnSize) {
  auto encoded = EncodeDataset(model_, dataset_, 0, 5, torch::kCPU);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  ASSERT_EQ(encoded->buckets.size(), 2u);
  const EncodedBucket& tall = encoded->buckets[0];
  const EncodedBucket& wide = encoded->buckets[1];
  EXPECT_EQ(tall.width, 32);
  EXPECT_EQ(tall.height, 48);
  EXPECT_THAT(tall.images, ElementsAre(0, 2, 3));
  EXPECT_THAT(wide.images, ElementsAre(1, 4));
  // The tiny VAE halves each side.
  EXPECT_EQ(tall.latents.sizes(), torch::IntArrayRef({3, 4, 24, 16}));
  EXPECT_EQ(wide.latents.sizes(), torch::IntArrayRef({2, 4, 16, 24}));
  EXPECT_TRUE(torch::isfinite(tall.latents).all().item<bool>());
  EXPECT_EQ(encoded->text.hidden_states.size(0), 5);
  EXPECT_FALSE(encoded->text.time_ids.defined());
  EXPECT_EQ(encoded->location[3], (std::pair<size_t, int64_t>{0, 2}));
  EXPECT_EQ(encoded->location[4], (std::pair<size_t, int64_t>{1, 1}));

  // Masks at latent size: image 0 (row 0 of tall) keeps its left half; unmasked rows weigh 1.
  EXPECT_THAT(tall.masked, ElementsAre(true, false, false));
  ASSERT_TRUE(tall.loss_weights.defined());
  EXPECT_EQ(tall.loss_weights.sizes(), torch::IntArrayRef({3, 1, 24, 16}));
  EXPECT_TRUE(torch::equal(tall.loss_weights[0].slice(2, 0, 8), torch::ones({1, 24, 8})));
  EXPECT_TRUE(torch::equal(tall.loss_weights[0].slice(2, 8, 16), torch::zeros({1, 24, 8})));
  EXPECT_TRUE(torch::equal(tall.loss_weights[1], torch::ones({1, 24, 16})));
  EXPECT_THAT(wide.masked, ElementsAre(false, true));
}

TEST_F(SdBucketedTrainingTest, EncodingTheSameDatasetTwiceGivesTheSameLatents) {
  auto first = EncodeDataset(model_, dataset_, 0, 5, torch::kCPU);
  auto second = EncodeDataset(model_, dataset_, 0, 5, torch::kCPU);
  ASSERT_TRUE(first.ok() && second.ok());
  for (size_t b = 0; b < 2; ++b) {
    EXPECT_TRUE(torch::equal(first->buckets[b].latents, second->buckets[b].latents));
  }
}

TEST_F(SdBucketedTrainingTest, BatchesTakeRowsOfOneBucketAndRefuseToMix) {
  auto encoded = EncodeDataset(model_, dataset_, 0, 5, torch::kCPU);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  auto batch = encoded->Batch({3, 0}, encoded->text);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_TRUE(torch::equal(batch->latents[0], encoded->buckets[0].latents[2]));
  EXPECT_TRUE(torch::equal(batch->latents[1], encoded->buckets[0].latents[0]));
  EXPECT_TRUE(torch::equal(batch->text.hidden_states[0], encoded->text.hidden_states[3]));
  ASSERT_TRUE(batch->loss_weights.defined());  // image 0 has a mask
  EXPECT_TRUE(torch::equal(batch->loss_weights[1], encoded->buckets[0].loss_weights[0]));

  auto unmasked = encoded->Batch({2, 3}, encoded->text);
  ASSERT_TRUE(unmasked.ok());
  EXPECT_FALSE(unmasked->loss_weights.defined());  // the plain MSE

  auto mixed = encoded->Batch({0, 1}, encoded->text);
  ASSERT_FALSE(mixed.ok());
  EXPECT_EQ(mixed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(mixed.status().message()), HasSubstr("two buckets"));
}

TEST_F(SdBucketedTrainingTest, AnotherResolutionScalesEveryBucket) {
  auto encoded = EncodeDataset(model_, dataset_, 80, 5, torch::kCPU);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  ASSERT_EQ(encoded->buckets.size(), 2u);
  EXPECT_EQ(encoded->buckets[0].width, 64);
  EXPECT_EQ(encoded->buckets[0].height, 96);
  EXPECT_EQ(encoded->buckets[0].latents.sizes(), torch::IntArrayRef({3, 4, 48, 32}));
  EXPECT_EQ(encoded->buckets[0].loss_weights.sizes(), torch::IntArrayRef({3, 1, 48, 32}));
  EXPECT_EQ(encoded->buckets[1].latents.sizes(), torch::IntArrayRef({2, 4, 32, 48}));
}

TEST_F(SdBucketedTrainingTest, TrainsOnTwoBucketsWithMaskedLoss) {
  TrainingSpec spec;
  spec.max_train_steps = 8;
  spec.train_batch_size = 2;
  spec.lora_rank = 2;
  spec.learning_rate = 1e-3;
  spec.seed = 4;
  std::vector<std::string> logs;
  std::vector<ProgressEvent> events;
  auto result = TrainLora(model_, dataset_, spec,
                          {.on_progress = [&](const ProgressEvent& e) { events.push_back(e); },
                           .on_log = [&](const std::string& m) { logs.push_back(m); }},
                          torch::kCPU);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->steps, 8);
  ASSERT_EQ(events.size(), 8u);
  for (const ProgressEvent& event : events) EXPECT_TRUE(std::isfinite(event.loss));
  EXPECT_THAT(logs, ::testing::Contains(HasSubstr("32x48 (3 images), 48x32 (2 images)")));
  EXPECT_THAT(logs, ::testing::Contains(HasSubstr("masked loss: 2 of 5 images")));
  EXPECT_EQ(result->info.training_parameters["masked_loss"], "true");
}

TEST_F(SdBucketedTrainingTest, SameSeedSameTrainingMaskedLossOffDiffers) {
  TrainingSpec spec;
  spec.max_train_steps = 6;
  spec.train_batch_size = 2;
  spec.lora_rank = 2;
  spec.learning_rate = 1e-3;
  spec.seed = 4;
  auto losses = [&](const TrainingSpec& s) {
    auto model = models::LoadDiffusersModel(*root_ / "model");
    EXPECT_TRUE(model.ok());
    std::vector<double> out;
    // The adapters' initial weights come from torch's global generator (trainer/lora).
    torch::manual_seed(0);
    auto result = TrainLora(*model, dataset_, s,
                            {.on_progress = [&](const ProgressEvent& e) { out.push_back(e.loss); }},
                            torch::kCPU);
    EXPECT_TRUE(result.ok()) << result.status();
    return out;
  };
  const std::vector<double> masked = losses(spec);
  EXPECT_EQ(losses(spec), masked);
  TrainingSpec unmasked = spec;
  unmasked.masked_loss = false;
  EXPECT_NE(losses(unmasked), masked);
}

TEST_F(SdxlBucketedTrainingTest, TimeIdsComeFromEachImagesManifestEntry) {
  auto encoded = EncodeDataset(model_, dataset_, 0, 5, torch::kCPU);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  ASSERT_EQ(encoded->text.time_ids.sizes(), torch::IntArrayRef({5, 6}));
  for (int64_t i = 0; i < 5; ++i) {
    const data::PreparedImage& image = dataset_.images[i];
    const std::array<double, 6> expected = SdxlTimeIds(image, image.width, image.height);
    for (int64_t k = 0; k < 6; ++k) {
      EXPECT_EQ(encoded->text.time_ids[i][k].item<float>(), static_cast<float>(expected[k]))
          << "image " << i << " id " << k;
    }
  }
  // Image 1 (48x32, pattern 1): original 136x84, crop {x: 24, y: 10, 96x64} -> the crop's
  // top-left in the frame where the crop is 48x32: (10 * 32 / 64, 24 * 48 / 96) = (5, 12).
  EXPECT_TRUE(torch::equal(encoded->text.time_ids[1],
                           torch::tensor({84.0f, 136.0f, 5.0f, 12.0f, 32.0f, 48.0f})));
  // A batch carries its images' own time ids.
  auto batch = encoded->Batch({4, 1}, encoded->text);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_TRUE(torch::equal(batch->text.time_ids[0], encoded->text.time_ids[4]));
  EXPECT_TRUE(torch::equal(batch->text.time_ids[1], encoded->text.time_ids[1]));
}

TEST_F(SdxlBucketedTrainingTest, TrainsOnTwoBuckets) {
  TrainingSpec spec;
  spec.max_train_steps = 6;
  spec.train_batch_size = 3;
  spec.lora_rank = 2;
  spec.learning_rate = 1e-3;
  spec.seed = 2;
  auto result = TrainLora(model_, dataset_, spec, {}, torch::kCPU);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->steps, 6);
  EXPECT_TRUE(std::isfinite(result->final_loss));
}

}  // namespace
}  // namespace easel::methods
