#include "trainer/worker/dataset_report.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace easel::worker {
namespace {

using ::testing::HasSubstr;

// A manifest as easel-preprocess writes it (preprocess/manifest.h).
nlohmann::json Manifest(int images, int skipped, int warnings) {
  nlohmann::json manifest = {{"version", 1}, {"resolution", 512}};
  manifest["images"] = nlohmann::json::array();
  for (int i = 0; i < images; ++i) {
    manifest["images"].push_back(
        {{"source", "img" + std::to_string(i) + ".jpg"},
         {"file", "images/" + std::to_string(i) + ".png"},
         {"caption", "a photo of TOK " + std::to_string(i)},
         {"caption_source", "caption.csv"},
         {"width", 512},
         {"height", 512},
         {"original_width", 800},
         {"original_height", 600},
         {"crop", {{"x", 100}, {"y", 0}, {"width", 600}, {"height", 600}}},
         {"focus", "face"}});
  }
  manifest["skipped"] = nlohmann::json::array();
  for (int i = 0; i < skipped; ++i) {
    manifest["skipped"].push_back(
        {{"source", "notes" + std::to_string(i) + ".txt"}, {"reason", "not an image"}});
  }
  manifest["warnings"] = nlohmann::json::array();
  for (int i = 0; i < warnings; ++i) manifest["warnings"].push_back("warning " + std::to_string(i));
  return manifest;
}

TEST(DatasetReportTest, CarriesUsedSkippedAndWarningsOfTheManifest) {
  auto report = DatasetReportFromManifest(Manifest(2, 1, 1).dump(2));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->images_used(), 2);
  EXPECT_EQ(report->images_skipped(), 1);
  EXPECT_EQ(report->warning_count(), 1);
  ASSERT_EQ(report->used_size(), 2);
  EXPECT_EQ(report->used(1).source(), "img1.jpg");
  EXPECT_EQ(report->used(1).caption(), "a photo of TOK 1");
  EXPECT_EQ(report->used(1).caption_source(), "caption.csv");
  ASSERT_EQ(report->skipped_size(), 1);
  EXPECT_EQ(report->skipped(0).source(), "notes0.txt");
  EXPECT_EQ(report->skipped(0).reason(), "not an image");
  EXPECT_THAT(report->warnings(), ::testing::ElementsAre("warning 0"));
}

TEST(DatasetReportTest, CutsListsToTheLimitsAndKeepsExactCounts) {
  ReportLimits limits;
  limits.max_entries = 3;
  limits.max_warnings = 2;
  auto report = DatasetReportFromManifest(Manifest(5, 4, 6).dump(), limits);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->images_used(), 5);
  EXPECT_EQ(report->images_skipped(), 4);
  EXPECT_EQ(report->warning_count(), 6);
  EXPECT_EQ(report->used_size(), 3);
  EXPECT_EQ(report->skipped_size(), 3);
  EXPECT_EQ(report->warnings_size(), 2);
}

TEST(DatasetReportTest, CutsUsedImagesFirstToFitTheByteLimit) {
  auto uncut = DatasetReportFromManifest(Manifest(200, 2, 1).dump());
  ASSERT_TRUE(uncut.ok());
  ReportLimits limits;
  limits.max_bytes = static_cast<int64_t>(uncut->ByteSizeLong()) / 2;
  auto report = DatasetReportFromManifest(Manifest(200, 2, 1).dump(), limits);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_LE(static_cast<int64_t>(report->ByteSizeLong()), limits.max_bytes);
  EXPECT_GT(report->used_size(), 0);
  EXPECT_LT(report->used_size(), 200);
  EXPECT_EQ(report->images_used(), 200);
  EXPECT_EQ(report->skipped_size(), 2);
  EXPECT_EQ(report->warnings_size(), 1);
}

TEST(DatasetReportTest, TextThatIsNotAManifestIsInvalid) {
  for (const char* text : {"", "not json", "[]", "{\"version\": 1}"}) {
    auto report = DatasetReportFromManifest(text);
    EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(report.status().message(), HasSubstr("manifest.json")) << text;
  }
  EXPECT_EQ(ReadDatasetReport("/nonexistent/manifest.json").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace easel::worker
