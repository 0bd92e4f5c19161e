#include "preprocess/prepare_dataset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "preprocess/manifest.h"
#include "tests/preprocess/test_support.h"

namespace easel::preprocess {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using testing::Encode;
using testing::ScopedTempDir;
using testing::ReadFileBytes;
using testing::SolidImage;
using testing::WriteFileBytes;
using testing::WriteZip;
using testing::ZipEntrySpec;

struct SourceImage {
  std::string name;
  int width;
  int height;
  cv::Scalar bgr;
};

// Six images of distinct colours, sizes and formats.
const std::vector<SourceImage>& SixImages() {
  static const auto* images = new std::vector<SourceImage>{
      {"a.jpg", 640, 480, {0, 0, 255}},   {"b.png", 480, 640, {0, 255, 0}},
      {"c.webp", 100, 100, {255, 0, 0}},  {"d.jpg", 32, 48, {0, 255, 255}},
      {"e.png", 300, 200, {255, 0, 255}}, {"f.jpg", 200, 300, {255, 255, 0}}};
  return *images;
}

std::vector<ZipEntrySpec> SixImageEntries() {
  std::vector<ZipEntrySpec> entries;
  for (const SourceImage& image : SixImages()) {
    const std::string extension = image.name.substr(image.name.find('.'));
    entries.push_back({.name = image.name,
                       .data = Encode(SolidImage(image.width, image.height, image.bgr), extension)});
  }
  return entries;
}

class PrepareDatasetTest : public ::testing::Test {
 protected:
  PreprocessOptions Options(const fs::path& archive) {
    return PreprocessOptions{.archive = archive,
                             .output = dir_ / "dataset",
                             .resolution = 64,
                             .token_string = "sks",
                             .caption_prefix = "a photo of TOK"};
  }

  Manifest ReadManifest(const PreprocessResult& result) {
    absl::StatusOr<Manifest> manifest = ParseManifest(ReadFileBytes(result.manifest));
    EXPECT_TRUE(manifest.ok()) << manifest.status();
    return manifest.ok() ? *manifest : Manifest{};
  }

  // Only the archive (if any) and the committed dataset: no staging directories left.
  std::vector<std::string> DirEntries() {
    std::vector<std::string> names;
    for (const fs::directory_entry& entry : fs::directory_iterator(dir_)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  ScopedTempDir temp_;
  fs::path dir_ = temp_.path();
};

TEST_F(PrepareDatasetTest, SixImagesWithCaptionsMatchedByName) {
  std::vector<ZipEntrySpec> entries = SixImageEntries();
  // Rows in another order than the files; c.webp and e.png have no row.
  entries.insert(entries.begin() + 2,
                 {.name = "caption.csv",
                  .data = "caption,image_file\n"
                          "\"TOK on a beach, at dusk\",f.jpg\n"
                          "TOK in a TOKEN shop,d.jpg\n"
                          "portrait of TOK,b.png\n"
                          "TOK smiling,a.jpg\n"});
  const fs::path zip = dir_ / "data.zip";
  WriteZip(zip, entries);
  std::vector<ProgressUpdate> progress;
  const absl::StatusOr<PreprocessResult> result = PrepareDataset(
      Options(zip), [&](const ProgressUpdate& update) { progress.push_back(update); });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->images, 6);
  EXPECT_EQ(result->skipped, 0);
  EXPECT_EQ(result->manifest, dir_ / "dataset" / "manifest.json");

  const Manifest manifest = ReadManifest(*result);
  EXPECT_EQ(manifest.version, 1);
  EXPECT_EQ(manifest.resolution, 64);
  ASSERT_EQ(manifest.images.size(), 6u);
  const std::map<std::string, std::pair<std::string, std::string>> expected_captions = {
      {"a.jpg", {"sks smiling", "caption.csv"}},
      {"b.png", {"portrait of sks", "caption.csv"}},
      {"c.webp", {"a photo of sks", "caption_prefix"}},
      {"d.jpg", {"sks in a TOKEN shop", "caption.csv"}},
      {"e.png", {"a photo of sks", "caption_prefix"}},
      {"f.jpg", {"sks on a beach, at dusk", "caption.csv"}}};
  for (size_t i = 0; i < manifest.images.size(); ++i) {
    const ManifestImage& image = manifest.images[i];
    const SourceImage& source = SixImages()[i];  // sorted by source name
    SCOPED_TRACE(image.source);
    EXPECT_EQ(image.source, source.name);
    EXPECT_EQ(image.caption, expected_captions.at(source.name).first);
    EXPECT_EQ(image.caption_source, expected_captions.at(source.name).second);
    EXPECT_EQ(image.original_width, source.width);
    EXPECT_EQ(image.original_height, source.height);
    EXPECT_EQ(image.width, 64);
    EXPECT_EQ(image.height, 64);
    EXPECT_EQ(image.crop.width, std::min(source.width, source.height));

    const cv::Mat written = cv::imread((dir_ / "dataset" / image.file).string(), cv::IMREAD_UNCHANGED);
    ASSERT_EQ(written.type(), CV_8UC3);
    EXPECT_EQ(written.cols, 64);
    EXPECT_EQ(written.rows, 64);
    const cv::Vec3b pixel = written.at<cv::Vec3b>(32, 32);
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(pixel[c], source.bgr[c], 12) << "channel " << c;
  }
  EXPECT_EQ(manifest.images[0].crop.x, 80);
  EXPECT_EQ(manifest.images[0].crop.y, 0);
  EXPECT_EQ(manifest.images[0].file, "images/0000.png");
  EXPECT_EQ(manifest.images[5].file, "images/0005.png");
  EXPECT_THAT(manifest.skipped, IsEmpty());

  ASSERT_EQ(progress.size(), 6u);
  EXPECT_EQ(progress.front().step, 1);
  EXPECT_EQ(progress.back().step, 6);
  EXPECT_THAT(progress, Each(Field(&ProgressUpdate::total, 6)));
  EXPECT_EQ(progress.front().message, "decoded a.jpg");
  EXPECT_THAT(DirEntries(), ElementsAre("data.zip", "dataset"));
}

TEST_F(PrepareDatasetTest, OutputIsDeterministic) {
  const fs::path zip = dir_ / "data.zip";
  WriteZip(zip, SixImageEntries());
  PreprocessOptions first = Options(zip);
  PreprocessOptions second = Options(zip);
  second.output = dir_ / "again";
  ASSERT_TRUE(PrepareDataset(first).ok());
  ASSERT_TRUE(PrepareDataset(second).ok());
  EXPECT_EQ(ReadFileBytes(first.output / "manifest.json"),
            ReadFileBytes(second.output / "manifest.json"));
  EXPECT_EQ(ReadFileBytes(first.output / "images/0003.png"),
            ReadFileBytes(second.output / "images/0003.png"));
}

TEST_F(PrepareDatasetTest, CorruptAndNonImageFilesAreSkippedWithReasons) {
  const fs::path zip = dir_ / "data.zip";
  WriteZip(zip, {{.name = "photos/", .directory = true},
                 {.name = "photos/good.jpg", .data = Encode(SolidImage(80, 60, {0, 0, 255}), ".jpg")},
                 {.name = "photos/bad.jpg", .data = "\xFF\xD8\xFF garbage that is no JPEG"},
                 {.name = "photos/anim.gif", .data = "GIF89a\x01\x00\x01\x00"},
                 {.name = "notes.txt", .data = "remember the milk"},
                 {.name = "__MACOSX/photos/._good.jpg", .data = "resource fork"}});
  const absl::StatusOr<PreprocessResult> result = PrepareDataset(Options(zip));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->images, 1);
  EXPECT_EQ(result->skipped, 3);
  const Manifest manifest = ReadManifest(*result);
  ASSERT_EQ(manifest.images.size(), 1u);
  EXPECT_EQ(manifest.images[0].source, "photos/good.jpg");
  EXPECT_EQ(manifest.images[0].caption, "a photo of sks");
  EXPECT_EQ(manifest.images[0].caption_source, "caption_prefix");
  EXPECT_THAT(manifest.skipped,
              ElementsAre(AllOf(Field(&ManifestSkip::source, "notes.txt"),
                                Field(&ManifestSkip::reason, "not an image")),
                          AllOf(Field(&ManifestSkip::source, "photos/anim.gif"),
                                Field(&ManifestSkip::reason, HasSubstr("GIF"))),
                          AllOf(Field(&ManifestSkip::source, "photos/bad.jpg"),
                                Field(&ManifestSkip::reason, StartsWith("corrupt JPEG")))));
  EXPECT_THAT(manifest.warnings, ElementsAre(HasSubstr("__MACOSX/photos/._good.jpg")));
}

TEST_F(PrepareDatasetTest, ArchiveWithoutImagesIsAUserErrorAndWritesNothing) {
  const fs::path zip = dir_ / "data.zip";
  WriteZip(zip, {{.name = "readme.txt", .data = "no pictures here"},
                 {.name = "broken.png", .data = "\x89PNG\r\n\x1A\n truncated"}});
  const absl::StatusOr<PreprocessResult> result = PrepareDataset(Options(zip));
  EXPECT_TRUE(absl::IsInvalidArgument(result.status()));
  EXPECT_THAT(std::string(result.status().message()),
              AllOf(StartsWith("the archive contains no images"), HasSubstr("readme.txt"),
                    HasSubstr("broken.png")));
  EXPECT_THAT(DirEntries(), ElementsAre("data.zip"));
}

TEST_F(PrepareDatasetTest, CaptionRowForMissingFileIsAnErrorNamingTheRow) {
  std::vector<ZipEntrySpec> entries = SixImageEntries();
  entries.push_back({.name = "caption.csv",
                     .data = "image_file,caption\na.jpg,TOK\nz.jpg,TOK at the zoo\n"});
  const fs::path zip = dir_ / "data.zip";
  WriteZip(zip, entries);
  const absl::StatusOr<PreprocessResult> result = PrepareDataset(Options(zip));
  EXPECT_TRUE(absl::IsInvalidArgument(result.status()));
  EXPECT_THAT(std::string(result.status().message()), AllOf(HasSubstr("row 3"), HasSubstr("z.jpg")));
  EXPECT_THAT(DirEntries(), ElementsAre("data.zip"));
}

TEST_F(PrepareDatasetTest, CaptionCsvWithoutCaptionColumnIsAnError) {
  std::vector<ZipEntrySpec> entries = SixImageEntries();
  entries.push_back({.name = "caption.csv", .data = "image_file,text\na.jpg,TOK\n"});
  const fs::path zip = dir_ / "data.zip";
  WriteZip(zip, entries);
  const absl::StatusOr<PreprocessResult> result = PrepareDataset(Options(zip));
  EXPECT_TRUE(absl::IsInvalidArgument(result.status()));
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("caption"));
}

TEST_F(PrepareDatasetTest, NonZipInputIsRejected) {
  const fs::path fake = dir_ / "data.zip";
  WriteFileBytes(fake, Encode(SolidImage(8, 8, {0, 0, 0}), ".png"));
  const absl::StatusOr<PreprocessResult> result = PrepareDataset(Options(fake));
  EXPECT_TRUE(absl::IsInvalidArgument(result.status()));
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("is not a zip or tar archive"));
  EXPECT_THAT(DirEntries(), ElementsAre("data.zip"));
}

TEST_F(PrepareDatasetTest, RefusesToOverwriteANonEmptyOutput) {
  const fs::path zip = dir_ / "data.zip";
  WriteZip(zip, SixImageEntries());
  fs::create_directories(dir_ / "dataset");
  WriteFileBytes(dir_ / "dataset" / "keep.txt", "precious");
  const absl::StatusOr<PreprocessResult> result = PrepareDataset(Options(zip));
  EXPECT_TRUE(absl::IsFailedPrecondition(result.status()));
  EXPECT_EQ(ReadFileBytes(dir_ / "dataset" / "keep.txt"), "precious");
  EXPECT_THAT(DirEntries(), ElementsAre("data.zip", "dataset"));
}

TEST_F(PrepareDatasetTest, FillsAnEmptyOutputDirectory) {
  const fs::path zip = dir_ / "data.zip";
  WriteZip(zip, SixImageEntries());
  fs::create_directories(dir_ / "dataset");
  const absl::StatusOr<PreprocessResult> result = PrepareDataset(Options(zip));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(fs::exists(dir_ / "dataset" / "images" / "0005.png"));
}

TEST_F(PrepareDatasetTest, RejectsBadOptions) {
  const fs::path zip = dir_ / "data.zip";
  WriteZip(zip, SixImageEntries());
  PreprocessOptions options = Options(zip);
  options.resolution = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(PrepareDataset(options).status()));
  options.resolution = 64;
  options.token_string = "";
  EXPECT_TRUE(absl::IsInvalidArgument(PrepareDataset(options).status()));
}

TEST(ManifestTest, RoundTripsThroughJson) {
  Manifest manifest;
  manifest.resolution = 512;
  manifest.images.push_back({.source = "x/a.jpg",
                             .file = "images/0000.png",
                             .caption = "a \"quoted\" caption, with ünïcode",
                             .caption_source = "caption.csv",
                             .width = 512,
                             .height = 512,
                             .original_width = 1024,
                             .original_height = 768,
                             .crop = {.x = 128, .y = 0, .width = 768, .height = 768}});
  manifest.skipped.push_back({.source = "b.gif", .reason = "unsupported"});
  manifest.warnings.push_back("ignored .DS_Store: hidden file");
  const absl::StatusOr<Manifest> parsed = ParseManifest(SerializeManifest(manifest));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(SerializeManifest(*parsed), SerializeManifest(manifest));
  EXPECT_EQ(parsed->images[0].crop.x, 128);
  EXPECT_EQ(parsed->images[0].caption, manifest.images[0].caption);
  EXPECT_TRUE(absl::IsInvalidArgument(ParseManifest("{\"version\": 2}").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseManifest("not json").status()));
}

}  // namespace
}  // namespace easel::preprocess
