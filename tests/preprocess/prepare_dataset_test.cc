#include "preprocess/prepare_dataset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "preprocess/manifest.h"
#include "tests/preprocess/image_fixtures.h"
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
      {"a.jpg", {"sks smiling", "caption.csv row 5"}},
      {"b.png", {"portrait of sks", "caption.csv row 4"}},
      {"c.webp", {"a photo of sks", "caption_prefix"}},
      {"d.jpg", {"sks in a TOKEN shop", "caption.csv row 3"}},
      {"e.png", {"a photo of sks", "caption_prefix"}},
      {"f.jpg", {"sks on a beach, at dusk", "caption.csv row 2"}}};
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

TEST_F(PrepareDatasetTest, SidecarCaptionsAreUsedAndNotReportedAsFiles) {
  std::vector<ZipEntrySpec> entries = SixImageEntries();
  entries.push_back({.name = "a.txt", .data = "TOK by the sea\n"});
  entries.push_back({.name = "e.caption", .data = "\xEF\xBB\xBFTOK in the snow"});
  const fs::path zip = dir_ / "data.zip";
  WriteZip(zip, entries);
  const absl::StatusOr<PreprocessResult> result = PrepareDataset(Options(zip));
  ASSERT_TRUE(result.ok()) << result.status();
  const Manifest manifest = ReadManifest(*result);
  EXPECT_THAT(manifest.skipped, IsEmpty());
  std::map<std::string, std::pair<std::string, std::string>> captions;
  for (const ManifestImage& image : manifest.images) {
    captions[image.source] = {image.caption, image.caption_source};
  }
  EXPECT_EQ(captions["a.jpg"], std::make_pair(std::string("sks by the sea"), std::string("a.txt")));
  EXPECT_EQ(captions["e.png"],
            std::make_pair(std::string("sks in the snow"), std::string("e.caption")));
  EXPECT_EQ(captions["b.png"].second, "caption_prefix");
}

TEST_F(PrepareDatasetTest, CorruptAndNonImageFilesAreSkippedWithReasons) {
  const fs::path zip = dir_ / "data.zip";
  WriteZip(zip, {{.name = "photos/", .directory = true},
                 {.name = "photos/good.jpg", .data = Encode(SolidImage(80, 60, {0, 0, 255}), ".jpg")},
                 {.name = "photos/bad.jpg", .data = "\xFF\xD8\xFF garbage that is no JPEG"},
                 {.name = "photos/anim.gif", .data = "GIF89a\x01\x00\x01\x00"},
                 {.name = "notes.pdf", .data = "remember the milk"},
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
              ElementsAre(AllOf(Field(&ManifestSkip::source, "notes.pdf"),
                                Field(&ManifestSkip::reason, "not an image")),
                          AllOf(Field(&ManifestSkip::source, "photos/anim.gif"),
                                Field(&ManifestSkip::reason, HasSubstr("GIF"))),
                          AllOf(Field(&ManifestSkip::source, "photos/bad.jpg"),
                                Field(&ManifestSkip::reason, StartsWith("corrupt JPEG")))));
  EXPECT_THAT(manifest.warnings, ElementsAre(HasSubstr("__MACOSX/photos/._good.jpg")));
}

TEST_F(PrepareDatasetTest, ArchiveWithoutImagesIsAUserErrorAndWritesNothing) {
  const fs::path zip = dir_ / "data.zip";
  WriteZip(zip, {{.name = "readme.pdf", .data = "no pictures here"},
                 {.name = "broken.png", .data = "\x89PNG\r\n\x1A\n truncated"}});
  const absl::StatusOr<PreprocessResult> result = PrepareDataset(Options(zip));
  EXPECT_TRUE(absl::IsInvalidArgument(result.status()));
  EXPECT_THAT(std::string(result.status().message()),
              AllOf(StartsWith("the archive contains no images"), HasSubstr("readme.pdf"),
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

std::string Png(const cv::Mat& image) { return Encode(image, ".png"); }

TEST_F(PrepareDatasetTest, TransparencyBecomesAMaskCroppedAndResizedLikeTheImage) {
  // 200x100, the left quarter transparent: the centred square crop is x in [50, 150), so the
  // transparent part is its leftmost 50 pixels, 16 of the 64 output columns.
  cv::Mat bgra(100, 200, CV_8UC4, cv::Scalar(0, 0, 255, 255));
  bgra(cv::Rect(0, 0, 100, 100)).setTo(cv::Scalar(255, 0, 0, 0));
  const fs::path zip = dir_ / "data.zip";
  WriteZip(zip, {{.name = "cutout.png", .data = Png(bgra)},
                 {.name = "photo.jpg", .data = Encode(SolidImage(80, 60, {0, 255, 0}), ".jpg")}});
  PreprocessOptions options = Options(zip);
  options.crop_based_on_salience = false;
  const absl::StatusOr<PreprocessResult> result = PrepareDataset(options);
  ASSERT_TRUE(result.ok()) << result.status();
  const Manifest manifest = ReadManifest(*result);
  ASSERT_EQ(manifest.images.size(), 2u);
  EXPECT_EQ(manifest.images[0].mask, "masks/0000.png");
  EXPECT_EQ(manifest.images[1].mask, "");
  EXPECT_FALSE(fs::exists(dir_ / "dataset/masks/0001.png"));

  const cv::Mat mask = cv::imread((dir_ / "dataset/masks/0000.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_EQ(mask.type(), CV_8UC1);
  ASSERT_EQ(mask.size(), cv::Size(64, 64));
  EXPECT_EQ(mask.at<uchar>(32, 4), 0);
  EXPECT_EQ(mask.at<uchar>(32, 60), 255);
  const cv::Mat image = cv::imread((dir_ / "dataset/images/0000.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_EQ(image.type(), CV_8UC3);
  EXPECT_EQ(image.at<cv::Vec3b>(32, 4), cv::Vec3b(127, 127, 127));
  EXPECT_EQ(image.at<cv::Vec3b>(32, 60), cv::Vec3b(0, 0, 255));
}

TEST_F(PrepareDatasetTest, TheSamePixelsTwiceAreUsedOnceWithAWarning) {
  const cv::Mat picture = testing::NoisePatchImage(120, 90, cv::Rect(10, 10, 40, 40));
  std::vector<uchar> lossless;
  ASSERT_TRUE(cv::imencode(".webp", picture, lossless, {cv::IMWRITE_WEBP_QUALITY, 101}));
  const fs::path zip = dir_ / "data.zip";
  WriteZip(zip, {{.name = "photos/b.webp", .data = std::string(lossless.begin(), lossless.end())},
                 {.name = "photos/a.png", .data = Png(picture)},
                 {.name = "photos/c.png", .data = Png(SolidImage(50, 50, {1, 2, 3}))},
                 {.name = "caption.csv", .data = "image_file,caption\nphotos/b.webp,TOK b\n"}});
  const absl::StatusOr<PreprocessResult> result = PrepareDataset(Options(zip));
  ASSERT_TRUE(result.ok()) << result.status();
  const Manifest manifest = ReadManifest(*result);
  ASSERT_EQ(manifest.images.size(), 2u);
  EXPECT_EQ(manifest.images[0].source, "photos/a.png");
  EXPECT_EQ(manifest.images[1].source, "photos/c.png");
  EXPECT_EQ(manifest.images[1].file, "images/0001.png");
  EXPECT_THAT(manifest.skipped,
              ElementsAre(AllOf(Field(&ManifestSkip::source, "photos/b.webp"),
                                Field(&ManifestSkip::reason,
                                      "a duplicate: the same pixels as photos/a.png"))));
  EXPECT_THAT(manifest.warnings,
              ElementsAre("photos/b.webp has the same pixels as photos/a.png",
                          "caption.csv row 2 captions photos/b.webp, which was skipped"));
}

TEST_F(PrepareDatasetTest, OutputDoesNotDependOnTheNumberOfThreads) {
  std::vector<ZipEntrySpec> entries = SixImageEntries();
  for (int i = 0; i < 10; ++i) {
    entries.push_back({.name = absl::StrFormat("noise/%02d.jpg", i),
                       .data = Encode(testing::NoisePatchImage(300 + 10 * i, 200,
                                                               cv::Rect(20 * i, 40, 60, 60), i),
                                      ".jpg")});
  }
  entries.push_back(entries[7]);
  entries.back().name = "noise/zz-copy.jpg";
  entries.push_back({.name = "broken.png", .data = "\x89PNG\r\n\x1A\n broken"});
  const fs::path zip = dir_ / "data.zip";
  WriteZip(zip, entries);
  std::string reference_manifest;
  std::vector<std::string> reference_images;
  for (int threads : {1, 2, 5}) {
    SCOPED_TRACE(threads);
    PreprocessOptions options = Options(zip);
    options.output = dir_ / absl::StrCat("threads-", threads);
    options.threads = threads;
    ASSERT_TRUE(PrepareDataset(options).ok());
    const std::string manifest = ReadFileBytes(options.output / "manifest.json");
    std::vector<std::string> images;
    for (int i = 0; i < 16; ++i) {
      images.push_back(ReadFileBytes(options.output / absl::StrFormat("images/%04d.png", i)));
    }
    if (threads == 1) {
      reference_manifest = manifest;
      reference_images = images;
      const Manifest parsed = *ParseManifest(manifest);
      EXPECT_EQ(parsed.images.size(), 16u);
      EXPECT_EQ(parsed.skipped.size(), 2u);
      continue;
    }
    EXPECT_EQ(manifest, reference_manifest);
    EXPECT_TRUE(images == reference_images);
  }
}

TEST_F(PrepareDatasetTest, SalienceCentresTheCropOnWhatStandsOut) {
  const fs::path zip = dir_ / "data.zip";
  const cv::Mat wide = testing::NoisePatchImage(600, 200, cv::Rect(500, 60, 80, 80));
  WriteZip(zip, {{.name = "wide.png", .data = Png(wide)}});
  const absl::StatusOr<PreprocessResult> salient = PrepareDataset(Options(zip));
  ASSERT_TRUE(salient.ok()) << salient.status();
  const Manifest manifest = ReadManifest(*salient);
  ASSERT_EQ(manifest.images.size(), 1u);
  EXPECT_EQ(manifest.images[0].focus, "salience");
  EXPECT_EQ(manifest.images[0].crop.x, 400);  // as far right as the image allows

  PreprocessOptions centred = Options(zip);
  centred.output = dir_ / "centred";
  centred.crop_based_on_salience = false;
  ASSERT_TRUE(PrepareDataset(centred).ok());
  const Manifest plain = *ParseManifest(ReadFileBytes(centred.output / "manifest.json"));
  EXPECT_EQ(plain.images[0].focus, "center");
  EXPECT_EQ(plain.images[0].crop.x, 200);
}

TEST_F(PrepareDatasetTest, FaceDetectionCentresOnTheFaceOrWarnsWithoutOne) {
  cv::Mat scene(300, 900, CV_8UC3, cv::Scalar(60, 60, 60));
  testing::DrawnFace(260).copyTo(scene(cv::Rect(20, 20, 260, 260)));
  const fs::path zip = dir_ / "data.zip";
  WriteZip(zip, {{.name = "face.png", .data = Png(scene)},
                 {.name = "noise.png",
                  .data = Png(testing::NoisePatchImage(900, 300, cv::Rect(700, 100, 80, 80)))}});
  PreprocessOptions options = Options(zip);
  options.use_face_detection_instead = true;
  const absl::StatusOr<PreprocessResult> result = PrepareDataset(options);
  ASSERT_TRUE(result.ok()) << result.status();
  const Manifest manifest = ReadManifest(*result);
  ASSERT_EQ(manifest.images.size(), 2u);
  EXPECT_EQ(manifest.images[0].focus, "face");
  EXPECT_NEAR(manifest.images[0].crop.x, 0, 20);  // the face is at x 20..280; the centre, 450
  EXPECT_EQ(manifest.images[1].focus, "center");
  EXPECT_EQ(manifest.images[1].crop.x, 300);
  EXPECT_THAT(manifest.warnings,
              ElementsAre("noise.png: no face found; the crop is centred on the image"));

  options.output = dir_ / "again";
  options.face_cascade = dir_ / "missing.xml";
  const absl::StatusOr<PreprocessResult> missing = PrepareDataset(options);
  EXPECT_TRUE(absl::IsNotFound(missing.status()));
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("missing.xml"));
}

TEST_F(PrepareDatasetTest, AspectBucketsGiveEachImageItsNearestBucket) {
  const fs::path zip = dir_ / "data.zip";
  WriteZip(zip, {{.name = "landscape.jpg", .data = Encode(SolidImage(640, 480, {0, 0, 255}), ".jpg")},
                 {.name = "portrait.png", .data = Png(SolidImage(90, 120, {0, 255, 0}))},
                 {.name = "square.png", .data = Png(SolidImage(300, 300, {255, 0, 0}))}});
  PreprocessOptions options = Options(zip);
  options.resolution = 256;
  options.aspect_buckets = true;
  const absl::StatusOr<PreprocessResult> result = PrepareDataset(options);
  ASSERT_TRUE(result.ok()) << result.status();
  const Manifest manifest = ReadManifest(*result);
  ASSERT_EQ(manifest.buckets.size(), 3u);
  EXPECT_EQ(manifest.buckets[0].width, 192);
  EXPECT_EQ(manifest.buckets[0].height, 320);
  const std::vector<std::pair<int, int>> sizes = {{320, 192}, {192, 320}, {256, 256}};
  ASSERT_EQ(manifest.images.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const ManifestImage& image = manifest.images[i];
    SCOPED_TRACE(image.source);
    EXPECT_EQ(image.width, sizes[i].first);
    EXPECT_EQ(image.height, sizes[i].second);
    const cv::Mat written = cv::imread((dir_ / "dataset" / image.file).string());
    EXPECT_EQ(written.size(), cv::Size(sizes[i].first, sizes[i].second));
  }
  EXPECT_EQ(manifest.images[0].crop.width, 640);  // 640x384 of 640x480
  EXPECT_EQ(manifest.images[0].crop.height, 384);

  options.resolution = 32;
  options.output = dir_ / "tiny";
  EXPECT_TRUE(absl::IsInvalidArgument(PrepareDataset(options).status()));
}

TEST_F(PrepareDatasetTest, LargeJpegsAreCroppedInFullSizePixels) {
  const fs::path zip = dir_ / "data.zip";
  cv::Mat big(1500, 2000, CV_8UC3, cv::Scalar(0, 255, 0));
  big(cv::Rect(0, 0, 250, 1500)).setTo(cv::Scalar(0, 0, 255));  // outside the centred crop
  WriteZip(zip, {{.name = "big.jpg", .data = Encode(big, ".jpg")}});
  PreprocessOptions options = Options(zip);
  options.crop_based_on_salience = false;
  const absl::StatusOr<PreprocessResult> result = PrepareDataset(options);
  ASSERT_TRUE(result.ok()) << result.status();
  const ManifestImage image = ReadManifest(*result).images.at(0);
  EXPECT_EQ(image.original_width, 2000);
  EXPECT_EQ(image.original_height, 1500);
  EXPECT_EQ(image.crop.x, 250);
  EXPECT_EQ(image.crop.width, 1500);
  const cv::Mat written = cv::imread((dir_ / "dataset" / image.file).string());
  ASSERT_EQ(written.size(), cv::Size(64, 64));
  const cv::Vec3b left = written.at<cv::Vec3b>(32, 0);
  EXPECT_GT(left[1], 200);  // green: the red band stayed outside
  EXPECT_LT(left[2], 40);
}

TEST_F(PrepareDatasetTest, MaxPixelsSkipsLargerImages) {
  const fs::path zip = dir_ / "data.zip";
  WriteZip(zip, SixImageEntries());
  PreprocessOptions options = Options(zip);
  options.max_pixels = 100 * 100;
  const absl::StatusOr<PreprocessResult> result = PrepareDataset(options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->images, 2);  // c.webp (100x100) and d.jpg (32x48)
  EXPECT_THAT(ReadManifest(*result).skipped,
              Each(Field(&ManifestSkip::reason, HasSubstr("the limit is 10000 pixels"))));
  options.max_pixels = 0;
  options.output = dir_ / "zero";
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
                             .crop = {.x = 128, .y = 0, .width = 768, .height = 768},
                             .focus = "salience"});
  manifest.images.push_back({.source = "x/b.png",
                             .file = "images/0001.png",
                             .mask = "masks/0001.png",
                             .caption = "b",
                             .caption_source = "caption_prefix",
                             .width = 576,
                             .height = 448});
  manifest.buckets.push_back({.width = 576, .height = 448});
  manifest.skipped.push_back({.source = "b.gif", .reason = "unsupported"});
  manifest.warnings.push_back("ignored .DS_Store: hidden file");
  const absl::StatusOr<Manifest> parsed = ParseManifest(SerializeManifest(manifest));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(SerializeManifest(*parsed), SerializeManifest(manifest));
  EXPECT_EQ(parsed->images[0].crop.x, 128);
  EXPECT_EQ(parsed->images[0].caption, manifest.images[0].caption);
  EXPECT_EQ(parsed->images[1].mask, "masks/0001.png");
  EXPECT_EQ(parsed->images[0].mask, "");
  EXPECT_EQ(parsed->images[0].focus, "salience");
  ASSERT_EQ(parsed->buckets.size(), 1u);
  EXPECT_EQ(parsed->buckets[0].height, 448);
  EXPECT_TRUE(absl::IsInvalidArgument(ParseManifest("{\"version\": 2}").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseManifest("not json").status()));
}

}  // namespace
}  // namespace easel::preprocess
