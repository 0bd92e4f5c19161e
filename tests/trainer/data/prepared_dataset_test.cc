#include "trainer/data/prepared_dataset.h"

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tests/trainer/data/dataset_fixture.h"

namespace easel::data {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::FreshTempDir;
using testing::WriteJson;
using testing::WriteBucketedDataset;
using testing::WriteSyntheticDataset;

TEST(PreparedDatasetTest, ReadsImagesAndCaptionsInManifestOrder) {
  auto dir = FreshTempDir("ds");
  WriteSyntheticDataset(dir, 3, 16);
  auto dataset = LoadPreparedDataset(dir);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->resolution, 16);
  ASSERT_EQ(dataset->images.size(), 3u);
  EXPECT_EQ(dataset->images[1].source, "photo1.jpg");
  EXPECT_EQ(dataset->images[1].file, "images/0001.png");
  EXPECT_EQ(dataset->images[1].caption_source, "caption.csv");
  EXPECT_EQ(dataset->images[2].width, 16);
  EXPECT_THAT(dataset->captions(),
              ElementsAre("a photo of TOK, pattern 0", "a photo of TOK, pattern 1",
                          "a photo of TOK, pattern 2"));
  ASSERT_EQ(dataset->skipped.size(), 1u);
  EXPECT_EQ(dataset->skipped[0].reason, "not an image");

  ASSERT_EQ(dataset->buckets.size(), 1u);
  EXPECT_EQ(dataset->buckets[0].width, 16);
  EXPECT_EQ(dataset->buckets[0].height, 16);
  EXPECT_THAT(dataset->buckets[0].images, ElementsAre(0, 1, 2));
  EXPECT_EQ(dataset->masked_images(), 0);
  const torch::Tensor pixels = dataset->BucketPixels(0);
  EXPECT_EQ(pixels.sizes(), torch::IntArrayRef({3, 3, 16, 16}));
  EXPECT_EQ(pixels.scalar_type(), torch::kFloat32);
  EXPECT_GE(pixels.min().item<float>(), -1.0f);
  EXPECT_LE(pixels.max().item<float>(), 1.0f);
  // Distinct patterns decode to distinct tensors.
  EXPECT_FALSE(torch::allclose(pixels[0], pixels[1]));
}

TEST(PreparedDatasetTest, PixelValuesMapByteRangeToMinusOneOne) {
  auto dir = FreshTempDir("ds");
  WriteSyntheticDataset(dir, 1, 8);
  auto dataset = LoadPreparedDataset(dir);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  // The synthetic pattern spans bytes 40..230: check the mapping b / 127.5 - 1 at its extremes.
  torch::Tensor bytes = (dataset->images[0].pixels + 1) * 127.5;
  EXPECT_TRUE(torch::allclose(bytes, bytes.round(), 0, 1e-3));
  EXPECT_GE(bytes.min().item<float>(), 39.5f);
  EXPECT_LE(bytes.max().item<float>(), 230.5f);
}

TEST(PreparedDatasetTest, MissingImageFileIsAnErrorNamingTheFile) {
  auto dir = FreshTempDir("ds");
  WriteSyntheticDataset(dir, 2, 8);
  std::filesystem::remove(dir / "images/0001.png");
  auto dataset = LoadPreparedDataset(dir);
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(dataset.status().message()), HasSubstr("images/0001.png"));
}

TEST(PreparedDatasetTest, EmptyManifestIsInvalidArgument) {
  auto dir = FreshTempDir("ds");
  WriteJson(dir / "manifest.json",
            {{"version", 1},
             {"resolution", 64},
             {"images", nlohmann::json::array()},
             {"skipped", {{{"source", "x.txt"}, {"reason", "not an image"}}}},
             {"warnings", nlohmann::json::array()}});
  auto dataset = LoadPreparedDataset(dir);
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(dataset.status().message()), HasSubstr("no usable images"));
}

TEST(PreparedDatasetTest, MissingManifestIsNotFound) {
  auto dir = FreshTempDir("ds");
  auto dataset = LoadPreparedDataset(dir);
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(dataset.status().message()), HasSubstr("manifest.json"));
}

TEST(PreparedDatasetTest, MalformedEntriesNameTheField) {
  auto dir = FreshTempDir("ds");
  nlohmann::json manifest = WriteSyntheticDataset(dir, 2, 8);
  manifest["images"][1].erase("caption");
  WriteJson(dir / "manifest.json", manifest);
  auto dataset = LoadPreparedDataset(dir);
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(dataset.status().message()), HasSubstr("images[1].caption"));

  manifest = WriteSyntheticDataset(dir, 2, 8);
  manifest["images"][0]["file"] = "../outside.png";
  WriteJson(dir / "manifest.json", manifest);
  dataset = LoadPreparedDataset(dir);
  ASSERT_FALSE(dataset.ok());
  EXPECT_THAT(std::string(dataset.status().message()), HasSubstr("images[0].file"));
}

TEST(PreparedDatasetTest, CorruptImageAndSizeOtherThanTheManifestsAreErrorsNamingTheFile) {
  auto dir = FreshTempDir("ds");
  WriteSyntheticDataset(dir, 2, 8);
  {
    std::ofstream(dir / "images/0000.png") << "not a png";
  }
  auto dataset = LoadPreparedDataset(dir);
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(dataset.status().message()), HasSubstr("images/0000.png"));

  WriteSyntheticDataset(dir, 2, 8);
  testing::WriteSyntheticPng(dir / "images/0001.png", 12, 1);
  dataset = LoadPreparedDataset(dir);
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(dataset.status().message()), HasSubstr("images/0001.png"));
  EXPECT_THAT(std::string(dataset.status().message()), HasSubstr("the manifest says 8x8"));
}

TEST(PreparedDatasetTest, MixedSizesAreGroupedIntoBucketsBySize) {
  auto dir = FreshTempDir("ds");
  WriteBucketedDataset(dir, {{32, 48}, {48, 32}, {32, 48}, {32, 32}, {48, 32}, {32, 48}}, 40);
  auto dataset = LoadPreparedDataset(dir);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->resolution, 40);
  ASSERT_EQ(dataset->images.size(), 6u);
  // By (width, height); each bucket's images in manifest order.
  ASSERT_EQ(dataset->buckets.size(), 3u);
  EXPECT_EQ(dataset->buckets[0].width, 32);
  EXPECT_EQ(dataset->buckets[0].height, 32);
  EXPECT_THAT(dataset->buckets[0].images, ElementsAre(3));
  EXPECT_EQ(dataset->buckets[1].width, 32);
  EXPECT_EQ(dataset->buckets[1].height, 48);
  EXPECT_THAT(dataset->buckets[1].images, ElementsAre(0, 2, 5));
  EXPECT_EQ(dataset->buckets[2].width, 48);
  EXPECT_EQ(dataset->buckets[2].height, 32);
  EXPECT_THAT(dataset->buckets[2].images, ElementsAre(1, 4));
  for (const PreparedImage& image : dataset->images) {
    EXPECT_EQ(image.pixels.sizes(), torch::IntArrayRef({3, image.height, image.width}));
  }
  EXPECT_EQ(dataset->images[1].width, 48);
  EXPECT_EQ(dataset->images[1].height, 32);
  EXPECT_EQ(dataset->BucketPixels(1).sizes(), torch::IntArrayRef({3, 3, 48, 32}));
  EXPECT_TRUE(torch::equal(dataset->BucketPixels(2)[1], dataset->images[4].pixels));
}

TEST(PreparedDatasetTest, ReadsOriginalSizeCropAndMask) {
  auto dir = FreshTempDir("ds");
  WriteBucketedDataset(dir, {{32, 48, /*masked=*/true}, {48, 32}}, 40);
  auto dataset = LoadPreparedDataset(dir);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  const PreparedImage& masked = dataset->images[0];
  EXPECT_EQ(masked.original_width, 2 * 32 + 40);
  EXPECT_EQ(masked.original_height, 2 * 48 + 20);
  EXPECT_EQ(masked.crop.x, 20);
  EXPECT_EQ(masked.crop.y, 10);
  EXPECT_EQ(masked.crop.width, 64);
  EXPECT_EQ(masked.crop.height, 96);
  EXPECT_EQ(masked.mask_file, "masks/0000.png");
  ASSERT_TRUE(masked.mask.defined());
  EXPECT_EQ(masked.mask.sizes(), torch::IntArrayRef({1, 48, 32}));
  EXPECT_EQ(masked.mask.scalar_type(), torch::kFloat32);
  // 255 -> 1 on the left half, 0 -> 0 on the right half.
  EXPECT_TRUE(torch::equal(masked.mask.slice(2, 0, 16), torch::ones({1, 48, 16})));
  EXPECT_TRUE(torch::equal(masked.mask.slice(2, 16, 32), torch::zeros({1, 48, 16})));
  EXPECT_FALSE(dataset->images[1].mask.defined());
  EXPECT_TRUE(dataset->images[1].mask_file.empty());
  EXPECT_EQ(dataset->images[1].crop.x, 24);
  EXPECT_EQ(dataset->masked_images(), 1);
}

TEST(PreparedDatasetTest, ManifestWithoutOriginalSizeOrCropMeansTheWholePreparedImage) {
  auto dir = FreshTempDir("ds");
  WriteSyntheticDataset(dir, 1, 16);
  auto dataset = LoadPreparedDataset(dir);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  const PreparedImage& image = dataset->images[0];
  EXPECT_EQ(image.original_width, 0);  // not known
  EXPECT_EQ(image.original_height, 0);
  EXPECT_EQ(image.crop.x, 0);
  EXPECT_EQ(image.crop.y, 0);
  EXPECT_EQ(image.crop.width, 16);
  EXPECT_EQ(image.crop.height, 16);
}

TEST(PreparedDatasetTest, MaskProblemsAreErrorsNamingTheMask) {
  auto dir = FreshTempDir("ds");
  nlohmann::json manifest = WriteBucketedDataset(dir, {{32, 48, true}, {48, 32}}, 40);
  std::filesystem::remove(dir / "masks/0000.png");
  auto dataset = LoadPreparedDataset(dir);
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(dataset.status().message()), HasSubstr("masks/0000.png"));

  testing::WriteMaskPng(dir / "masks/0000.png", 48, 32, [](int, int) { return 255; });
  dataset = LoadPreparedDataset(dir);
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(dataset.status().message()), HasSubstr("masks/0000.png"));
  EXPECT_THAT(std::string(dataset.status().message()), HasSubstr("48x32"));

  manifest["images"][0]["mask"] = "../mask.png";
  WriteJson(dir / "manifest.json", manifest);
  dataset = LoadPreparedDataset(dir);
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(dataset.status().message()), HasSubstr("images[0].mask"));
}

TEST(PreparedDatasetTest, AnEmptyMaskIsDroppedWithAWarning) {
  auto dir = FreshTempDir("ds");
  WriteBucketedDataset(dir, {{32, 32, true}}, 32);
  testing::WriteMaskPng(dir / "masks/0000.png", 32, 32, [](int, int) { return 0; });
  auto dataset = LoadPreparedDataset(dir);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_FALSE(dataset->images[0].mask.defined());
  ASSERT_EQ(dataset->warnings.size(), 1u);
  EXPECT_THAT(dataset->warnings[0], HasSubstr("masks/0000.png"));
  EXPECT_THAT(dataset->warnings[0], HasSubstr("empty"));
}

TEST(PreparedDatasetTest, MalformedOriginalSizeAndCropNameTheField) {
  auto dir = FreshTempDir("ds");
  nlohmann::json manifest = WriteBucketedDataset(dir, {{32, 32}, {32, 32}}, 32);
  manifest["images"][1]["crop"]["width"] = 0;
  WriteJson(dir / "manifest.json", manifest);
  auto dataset = LoadPreparedDataset(dir);
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(dataset.status().message()), HasSubstr("images[1].crop.width"));

  manifest = WriteBucketedDataset(dir, {{32, 32}, {32, 32}}, 32);
  manifest["images"][0]["original_height"] = "tall";
  WriteJson(dir / "manifest.json", manifest);
  dataset = LoadPreparedDataset(dir);
  ASSERT_FALSE(dataset.ok());
  EXPECT_THAT(std::string(dataset.status().message()), HasSubstr("images[0].original_height"));
}

}  // namespace
}  // namespace easel::data
