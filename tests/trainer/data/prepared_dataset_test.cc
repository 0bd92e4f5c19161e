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

  const torch::Tensor& pixels = dataset->pixels;
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
  torch::Tensor bytes = (dataset->pixels + 1) * 127.5;
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

TEST(PreparedDatasetTest, CorruptImageAndMixedSizesAreErrorsNamingTheFile) {
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
}

}  // namespace
}  // namespace easel::data
