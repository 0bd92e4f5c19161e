#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "preprocess/images/exif_orientation.h"
#include "preprocess/images/image_codec.h"
#include "preprocess/images/image_format.h"
#include "preprocess/images/image_header.h"
#include "tests/preprocess/image_fixtures.h"
#include "tests/preprocess/test_support.h"

namespace easel::preprocess {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::CmykJpeg;
using testing::Encode;
using testing::PalettePng;
using testing::SolidImage;
using testing::WithJpegExif;
using testing::WithPngExif;
using testing::WithWebpExif;

const cv::Scalar kRed(0, 0, 255);   // BGR
const cv::Scalar kBlue(255, 0, 0);  // BGR

// Left third red, middle green, right third blue.
cv::Mat ThreeStripes(int width, int height) {
  cv::Mat image = SolidImage(width, height, cv::Scalar(0, 255, 0));
  image(cv::Rect(0, 0, width / 3, height)).setTo(kRed);
  image(cv::Rect(width - width / 3, 0, width / 3, height)).setTo(kBlue);
  return image;
}

// A 64x32 upright picture: four quadrants of distinct colours (BGR).
const cv::Scalar kQuadrants[4] = {cv::Scalar(0, 0, 255), cv::Scalar(0, 255, 0),
                                  cv::Scalar(255, 0, 0), cv::Scalar(0, 255, 255)};

cv::Mat UprightQuadrants() {
  cv::Mat image(32, 64, CV_8UC3);
  image(cv::Rect(0, 0, 32, 16)).setTo(kQuadrants[0]);    // top left
  image(cv::Rect(32, 0, 32, 16)).setTo(kQuadrants[1]);   // top right
  image(cv::Rect(0, 16, 32, 16)).setTo(kQuadrants[2]);   // bottom left
  image(cv::Rect(32, 16, 32, 16)).setTo(kQuadrants[3]);  // bottom right
  return image;
}

// The pixels a camera stores for `upright` when it records EXIF orientation `orientation`:
// the inverse of the transform a viewer applies (TIFF 6.0, tag 274).
cv::Mat StoredFor(const cv::Mat& upright, int orientation) {
  cv::Mat stored;
  switch (orientation) {
    case 2: cv::flip(upright, stored, 1); break;
    case 3: cv::rotate(upright, stored, cv::ROTATE_180); break;
    case 4: cv::flip(upright, stored, 0); break;
    case 5: cv::transpose(upright, stored); break;
    case 6: cv::rotate(upright, stored, cv::ROTATE_90_COUNTERCLOCKWISE); break;
    case 7: cv::rotate(upright, stored, cv::ROTATE_90_CLOCKWISE); cv::flip(stored, stored, 0);
      break;
    case 8: cv::rotate(upright, stored, cv::ROTATE_90_CLOCKWISE); break;
    default: stored = upright.clone();
  }
  return stored;
}

TEST(ImageCodecTest, EveryExifOrientationDecodesUpright) {
  const cv::Mat upright = UprightQuadrants();
  for (int orientation = 1; orientation <= 8; ++orientation) {
    const std::string jpeg =
        WithJpegExif(Encode(StoredFor(upright, orientation), ".jpg"), orientation);
    const absl::StatusOr<DecodedImage> decoded = DecodeImage(jpeg);
    ASSERT_TRUE(decoded.ok()) << "orientation " << orientation << ": " << decoded.status();
    ASSERT_EQ(decoded->bgr.cols, 64) << "orientation " << orientation;
    ASSERT_EQ(decoded->bgr.rows, 32) << "orientation " << orientation;
    EXPECT_EQ(decoded->original_size, cv::Size(64, 32)) << "orientation " << orientation;
    const cv::Point centres[4] = {{16, 8}, {48, 8}, {16, 24}, {48, 24}};
    for (int q = 0; q < 4; ++q) {
      const cv::Vec3b pixel = decoded->bgr.at<cv::Vec3b>(centres[q]);
      for (int c = 0; c < 3; ++c) {
        EXPECT_NEAR(pixel[c], kQuadrants[q][c], 40)
            << "orientation " << orientation << ", quadrant " << q << ", channel " << c;
      }
    }
  }
}

TEST(ImageFormatTest, DetectsFormatsByMagicBytes) {
  const cv::Mat image = SolidImage(8, 8, kRed);
  EXPECT_EQ(DetectImageFormat(Encode(image, ".jpg")), ImageFormat::kJpeg);
  EXPECT_EQ(DetectImageFormat(Encode(image, ".png")), ImageFormat::kPng);
  EXPECT_EQ(DetectImageFormat(Encode(image, ".webp")), ImageFormat::kWebp);
  EXPECT_EQ(DetectImageFormat(Encode(image, ".bmp")), ImageFormat::kBmp);
  EXPECT_EQ(DetectImageFormat("GIF89a......"), ImageFormat::kGif);
  EXPECT_EQ(DetectImageFormat("hello, world"), ImageFormat::kUnknown);
  EXPECT_EQ(DetectImageFormat(""), ImageFormat::kUnknown);
}

TEST(ImageCodecTest, DecodesJpegPngAndWebp) {
  const cv::Mat image = SolidImage(40, 30, kRed);
  for (const char* extension : {".jpg", ".png", ".webp"}) {
    const absl::StatusOr<DecodedImage> decoded = DecodeImage(Encode(image, extension));
    ASSERT_TRUE(decoded.ok()) << extension << ": " << decoded.status();
    EXPECT_EQ(decoded->bgr.cols, 40) << extension;
    EXPECT_EQ(decoded->bgr.rows, 30) << extension;
    EXPECT_EQ(decoded->bgr.type(), CV_8UC3) << extension;
    EXPECT_TRUE(decoded->mask.empty()) << extension;
    const cv::Vec3b center = decoded->bgr.at<cv::Vec3b>(15, 20);
    EXPECT_GT(center[2], 200) << extension;  // still red (BGR order)
    EXPECT_LT(center[0], 60) << extension;
  }
}

TEST(ImageCodecTest, CorruptJpegFailsWithReason) {
  std::string corrupt = Encode(SolidImage(64, 64, kRed), ".jpg").substr(0, 3);
  corrupt += std::string(500, '\x5a');
  const absl::StatusOr<DecodedImage> decoded = DecodeImage(corrupt);
  EXPECT_TRUE(absl::IsInvalidArgument(decoded.status()));
  EXPECT_THAT(std::string(decoded.status().message()), StartsWith("corrupt JPEG"));
}

TEST(ImageCodecTest, OtherFormatsAreRefusedWithReason) {
  const absl::StatusOr<DecodedImage> bmp = DecodeImage(Encode(SolidImage(8, 8, kRed), ".bmp"));
  EXPECT_THAT(std::string(bmp.status().message()), HasSubstr("unsupported image format BMP"));
  EXPECT_EQ(DecodeImage("plain text").status().message(), "not an image");
}

TEST(ImageCodecTest, PngIsRgbWithoutAlpha) {
  const absl::StatusOr<std::string> png = EncodeRgbPng(SolidImage(16, 16, kRed));
  ASSERT_TRUE(png.ok()) << png.status();
  ASSERT_GT(png->size(), 26u);
  // IHDR: width at 16, height at 20, bit depth at 24, colour type at 25 (2 = RGB).
  EXPECT_EQ(static_cast<unsigned char>((*png)[24]), 8);
  EXPECT_EQ(static_cast<unsigned char>((*png)[25]), 2);
  const cv::Mat back = cv::imdecode(cv::Mat(1, static_cast<int>(png->size()), CV_8U,
                                            const_cast<char*>(png->data())),
                                    cv::IMREAD_UNCHANGED);
  ASSERT_EQ(back.type(), CV_8UC3);
  EXPECT_EQ(back.at<cv::Vec3b>(8, 8), cv::Vec3b(0, 0, 255));
}

TEST(ImageHeaderTest, ReadsTheDeclaredSizeOfEachFormat) {
  const cv::Mat image = SolidImage(37, 23, kRed);
  for (const char* extension : {".jpg", ".png", ".webp"}) {
    const std::string bytes = Encode(image, extension);
    const absl::StatusOr<ImageSize> size = ReadImageSize(bytes, DetectImageFormat(bytes));
    ASSERT_TRUE(size.ok()) << extension << ": " << size.status();
    EXPECT_EQ(size->width, 37) << extension;
    EXPECT_EQ(size->height, 23) << extension;
  }
  // Lossless WebP (VP8L) too.
  std::vector<uchar> lossless;
  ASSERT_TRUE(cv::imencode(".webp", image, lossless, {cv::IMWRITE_WEBP_QUALITY, 101}));
  const absl::StatusOr<ImageSize> size =
      ReadImageSize(std::string(lossless.begin(), lossless.end()), ImageFormat::kWebp);
  ASSERT_TRUE(size.ok()) << size.status();
  EXPECT_EQ(size->width, 37);
  EXPECT_EQ(size->height, 23);
}

TEST(ImageHeaderTest, ProgressiveJpegAndTrailingDataAreComplete) {
  std::vector<uchar> progressive;
  ASSERT_TRUE(cv::imencode(".jpg", ThreeStripes(64, 48), progressive,
                           {cv::IMWRITE_JPEG_PROGRESSIVE, 1, cv::IMWRITE_JPEG_RST_INTERVAL, 2}));
  std::string bytes(progressive.begin(), progressive.end());
  ASSERT_TRUE(ReadImageSize(bytes, ImageFormat::kJpeg).ok());
  bytes += "trailing data after the end-of-image marker, as motion photos carry";
  EXPECT_TRUE(ReadImageSize(bytes, ImageFormat::kJpeg).ok());
}

TEST(ImageHeaderTest, TruncatedJpegIsRefusedWhereverItIsCut) {
  // libjpeg decodes these without an error, greying out what is missing.
  const std::string jpeg = Encode(ThreeStripes(64, 64), ".jpg");
  for (size_t cut = 3; cut < jpeg.size() - 1; cut += 37) {
    const std::string truncated = jpeg.substr(0, cut);
    EXPECT_FALSE(ReadImageSize(truncated, ImageFormat::kJpeg).ok()) << cut;
    const absl::StatusOr<DecodedImage> decoded = DecodeImage(truncated);
    EXPECT_THAT(std::string(decoded.status().message()), StartsWith("corrupt JPEG")) << cut;
  }
}

TEST(ImageCodecTest, RefusesImagesPastThePixelLimitBeforeDecoding) {
  const std::string png = Encode(SolidImage(40, 30, kRed), ".png");
  EXPECT_TRUE(DecodeImage(png, {.max_pixels = 1200}).ok());
  const absl::StatusOr<DecodedImage> refused = DecodeImage(png, {.max_pixels = 1199});
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status()));
  EXPECT_EQ(refused.status().message(),
            "image too large: PNG of 40x30 pixels; the limit is 1199 pixels");
  EXPECT_EQ(ImageLimits().max_pixels, 120'000'000);
}

cv::Vec3b PixelAt(const DecodedImage& image, int x, int y) {
  return image.bgr.at<cv::Vec3b>(y, x);
}

void ExpectNear(const cv::Vec3b& actual, const cv::Vec3b& expected, int tolerance,
                const std::string& what) {
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(actual[c], expected[c], tolerance) << what << ", channel " << c;
  }
}

TEST(ImageCodecTest, PngAndWebpExifOrientationIsApplied) {
  const cv::Mat upright = UprightQuadrants();
  const cv::Mat stored = StoredFor(upright, 6);  // 32 wide, 64 high
  std::vector<uchar> lossless;
  ASSERT_TRUE(cv::imencode(".webp", stored, lossless, {cv::IMWRITE_WEBP_QUALITY, 101}));
  const std::string files[] = {
      WithPngExif(Encode(stored, ".png"), 6),
      WithWebpExif(std::string(lossless.begin(), lossless.end()), 32, 64, 6)};
  for (const std::string& file : files) {
    const absl::StatusOr<DecodedImage> decoded = DecodeImage(file);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    ASSERT_EQ(decoded->bgr.size(), cv::Size(64, 32));
    EXPECT_EQ(decoded->original_size, cv::Size(64, 32));
    const cv::Point centres[4] = {{16, 8}, {48, 8}, {16, 24}, {48, 24}};
    for (int q = 0; q < 4; ++q) {
      const cv::Scalar& colour = kQuadrants[q];
      EXPECT_EQ(decoded->bgr.at<cv::Vec3b>(centres[q]), cv::Vec3b(colour[0], colour[1], colour[2]))
          << "quadrant " << q;
    }
  }
}

TEST(ImageCodecTest, ExifOrientationIsOneWithoutExif) {
  const std::string jpeg = Encode(SolidImage(8, 8, kRed), ".jpg");
  EXPECT_EQ(ReadExifOrientation(jpeg, ImageFormat::kJpeg), 1);
  EXPECT_EQ(ReadExifOrientation(WithJpegExif(jpeg, 8), ImageFormat::kJpeg), 8);
  EXPECT_EQ(ReadExifOrientation(WithJpegExif(jpeg, 9), ImageFormat::kJpeg), 1);  // invalid
  EXPECT_EQ(ReadExifOrientation(Encode(SolidImage(8, 8, kRed), ".png"), ImageFormat::kPng), 1);
  EXPECT_EQ(ReadExifOrientation("\x89PNG\r\n\x1A\n\0\0\0", ImageFormat::kPng), 1);
}

TEST(ImageCodecTest, AlphaIsCompositedOnGreyAndKeptAsMask) {
  cv::Mat bgra(20, 40, CV_8UC4, cv::Scalar(0, 0, 255, 255));      // opaque red
  bgra(cv::Rect(0, 0, 20, 20)).setTo(cv::Scalar(255, 0, 0, 0));   // left half transparent
  bgra(cv::Rect(30, 0, 10, 20)).setTo(cv::Scalar(0, 255, 0, 128));  // half-transparent green
  std::vector<uchar> lossless;
  ASSERT_TRUE(cv::imencode(".webp", bgra, lossless, {cv::IMWRITE_WEBP_QUALITY, 101}));
  const std::string files[] = {Encode(bgra, ".png"),
                               std::string(lossless.begin(), lossless.end())};
  for (const std::string& file : files) {
    const absl::StatusOr<DecodedImage> decoded = DecodeImage(file);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    ASSERT_EQ(decoded->bgr.type(), CV_8UC3);
    ASSERT_EQ(decoded->mask.type(), CV_8UC1);
    ASSERT_EQ(decoded->mask.size(), decoded->bgr.size());
    EXPECT_EQ(decoded->mask.at<uchar>(10, 5), 0);
    EXPECT_EQ(decoded->mask.at<uchar>(10, 25), 255);
    EXPECT_EQ(decoded->mask.at<uchar>(10, 35), 128);
    EXPECT_EQ(PixelAt(*decoded, 5, 10), cv::Vec3b(127, 127, 127));  // grey background
    EXPECT_EQ(PixelAt(*decoded, 25, 10), cv::Vec3b(0, 0, 255));
    ExpectNear(PixelAt(*decoded, 35, 10), cv::Vec3b(63, 191, 63), 1, "half green on grey");
  }
}

TEST(ImageCodecTest, OpaqueAlphaGivesNoMask) {
  const cv::Mat bgra(16, 16, CV_8UC4, cv::Scalar(10, 20, 30, 255));
  const absl::StatusOr<DecodedImage> decoded = DecodeImage(Encode(bgra, ".png"));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(decoded->mask.empty());
  EXPECT_EQ(PixelAt(*decoded, 8, 8), cv::Vec3b(10, 20, 30));
}

TEST(ImageCodecTest, SixteenBitAndGreyPngsBecomeEightBitBgr) {
  const cv::Mat bgr16(12, 10, CV_16UC3, cv::Scalar(65535, 32896, 0));
  const cv::Mat grey16(12, 10, CV_16UC1, cv::Scalar(257 * 200));
  const cv::Mat grey8(12, 10, CV_8UC1, cv::Scalar(77));
  cv::Mat bgra16(12, 10, CV_16UC4, cv::Scalar(0, 0, 65535, 65535));
  bgra16(cv::Rect(0, 0, 5, 12)).setTo(cv::Scalar(0, 0, 65535, 0));
  const struct {
    cv::Mat image;
    cv::Vec3b expected;
  } cases[] = {{bgr16, {255, 128, 0}}, {grey16, {200, 200, 200}}, {grey8, {77, 77, 77}},
               {bgra16, {0, 0, 255}}};
  for (const auto& [image, expected] : cases) {
    const absl::StatusOr<DecodedImage> decoded = DecodeImage(Encode(image, ".png"));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    ASSERT_EQ(decoded->bgr.type(), CV_8UC3);
    EXPECT_EQ(PixelAt(*decoded, 8, 6), expected) << "OpenCV type " << image.type();
  }
  const absl::StatusOr<DecodedImage> with_alpha = DecodeImage(Encode(bgra16, ".png"));
  ASSERT_TRUE(with_alpha.ok());
  ASSERT_EQ(with_alpha->mask.type(), CV_8UC1);
  EXPECT_EQ(with_alpha->mask.at<uchar>(6, 2), 0);
  EXPECT_EQ(with_alpha->mask.at<uchar>(6, 8), 255);
}

TEST(ImageCodecTest, PalettePngsBecomeBgrAndTheirTransparencyAMask) {
  const std::vector<cv::Vec3b> palette = {{0, 0, 255}, {0, 255, 0}};  // red, green
  std::vector<uint8_t> indices;
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 8; ++x) indices.push_back(x < 4 ? 0 : 1);
  }
  const absl::StatusOr<DecodedImage> opaque = DecodeImage(PalettePng(8, 4, palette, indices, {}));
  ASSERT_TRUE(opaque.ok()) << opaque.status();
  EXPECT_EQ(PixelAt(*opaque, 1, 1), cv::Vec3b(0, 0, 255));
  EXPECT_EQ(PixelAt(*opaque, 6, 1), cv::Vec3b(0, 255, 0));
  EXPECT_TRUE(opaque->mask.empty());

  const absl::StatusOr<DecodedImage> transparent =
      DecodeImage(PalettePng(8, 4, palette, indices, {255, 0}));  // green is transparent
  ASSERT_TRUE(transparent.ok()) << transparent.status();
  EXPECT_EQ(PixelAt(*transparent, 1, 1), cv::Vec3b(0, 0, 255));
  EXPECT_EQ(PixelAt(*transparent, 6, 1), cv::Vec3b(127, 127, 127));
  ASSERT_FALSE(transparent->mask.empty());
  EXPECT_EQ(transparent->mask.at<uchar>(1, 6), 0);
}

TEST(ImageCodecTest, CmykJpegBecomesBgr) {
  const absl::StatusOr<DecodedImage> decoded = DecodeImage(CmykJpeg(16, 16, 0, 255, 255, 0));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->bgr.type(), CV_8UC3);
  ExpectNear(PixelAt(*decoded, 8, 8), cv::Vec3b(0, 0, 255), 8, "CMYK red");
}

TEST(ImageCodecTest, LargeJpegIsShrunkWhileDecodingWhenAllowed) {
  const std::string jpeg = Encode(ThreeStripes(1601, 1200), ".jpg");
  cv::Size asked;
  const absl::StatusOr<DecodedImage> quarter = DecodeImage(jpeg, {}, [&](cv::Size original) {
    asked = original;
    return 5;  // 4 is the largest factor libjpeg offers below it
  });
  ASSERT_TRUE(quarter.ok()) << quarter.status();
  EXPECT_EQ(asked, cv::Size(1601, 1200));
  EXPECT_EQ(quarter->bgr.size(), cv::Size(401, 300));  // ceil(side / 4)
  EXPECT_EQ(quarter->original_size, cv::Size(1601, 1200));
  ExpectNear(quarter->bgr.at<cv::Vec3b>(150, 10), cv::Vec3b(0, 0, 255), 4, "red stripe");

  // Upright sizes: a camera's portrait is asked about, and comes out, upright.
  const std::string rotated = WithJpegExif(jpeg, 6);
  const absl::StatusOr<DecodedImage> portrait =
      DecodeImage(rotated, {}, [&](cv::Size original) {
        asked = original;
        return 8;
      });
  ASSERT_TRUE(portrait.ok()) << portrait.status();
  EXPECT_EQ(asked, cv::Size(1200, 1601));
  EXPECT_EQ(portrait->bgr.size(), cv::Size(150, 201));
  EXPECT_EQ(portrait->original_size, cv::Size(1200, 1601));

  // PNGs are never shrunk.
  const absl::StatusOr<DecodedImage> png =
      DecodeImage(Encode(ThreeStripes(64, 48), ".png"), {}, [](cv::Size) { return 8; });
  ASSERT_TRUE(png.ok());
  EXPECT_EQ(png->bgr.size(), cv::Size(64, 48));
}

TEST(ImageCodecTest, MaskPngIsEightBitGrey) {
  const absl::StatusOr<std::string> png = EncodeMaskPng(cv::Mat(8, 8, CV_8UC1, cv::Scalar(9)));
  ASSERT_TRUE(png.ok()) << png.status();
  EXPECT_EQ(static_cast<unsigned char>((*png)[24]), 8);
  EXPECT_EQ(static_cast<unsigned char>((*png)[25]), 0);
  EXPECT_FALSE(EncodeMaskPng(SolidImage(8, 8, kRed)).ok());
}

}  // namespace
}  // namespace easel::preprocess
