#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "preprocess/images/image_codec.h"
#include "preprocess/images/image_format.h"
#include "preprocess/images/image_header.h"
#include "preprocess/images/square_crop.h"
#include "tests/preprocess/test_support.h"

namespace easel::preprocess {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::Encode;
using testing::SolidImage;

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

// `jpeg` with an APP1 Exif segment (big-endian TIFF, one IFD entry: Orientation) after SOI.
std::string WithExifOrientation(const std::string& jpeg, int orientation) {
  const std::string tiff = std::string("MM\0\x2a\0\0\0\x08", 8) +  // header, IFD at 8
                           std::string("\0\x01", 2) +                 // one entry
                           std::string("\x01\x12\0\x03\0\0\0\x01", 8) +  // 274, SHORT, 1
                           std::string("\0", 1) + static_cast<char>(orientation) +
                           std::string("\0\0", 2) +      // value, padded to 4 bytes
                           std::string("\0\0\0\0", 4);  // no next IFD
  const std::string payload = std::string("Exif\0\0", 6) + tiff;
  const size_t length = payload.size() + 2;
  const std::string segment = std::string("\xff\xe1", 2) + static_cast<char>(length >> 8) +
                              static_cast<char>(length & 0xff) + payload;
  return jpeg.substr(0, 2) + segment + jpeg.substr(2);
}

TEST(ImageCodecTest, EveryExifOrientationDecodesUpright) {
  const cv::Mat upright = UprightQuadrants();
  for (int orientation = 1; orientation <= 8; ++orientation) {
    const std::string jpeg =
        WithExifOrientation(Encode(StoredFor(upright, orientation), ".jpg"), orientation);
    const absl::StatusOr<cv::Mat> decoded = DecodeImage(jpeg);
    ASSERT_TRUE(decoded.ok()) << "orientation " << orientation << ": " << decoded.status();
    ASSERT_EQ(decoded->cols, 64) << "orientation " << orientation;
    ASSERT_EQ(decoded->rows, 32) << "orientation " << orientation;
    const cv::Point centres[4] = {{16, 8}, {48, 8}, {16, 24}, {48, 24}};
    for (int q = 0; q < 4; ++q) {
      const cv::Vec3b pixel = decoded->at<cv::Vec3b>(centres[q]);
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
    const absl::StatusOr<cv::Mat> decoded = DecodeImage(Encode(image, extension));
    ASSERT_TRUE(decoded.ok()) << extension << ": " << decoded.status();
    EXPECT_EQ(decoded->cols, 40) << extension;
    EXPECT_EQ(decoded->rows, 30) << extension;
    EXPECT_EQ(decoded->type(), CV_8UC3) << extension;
    const cv::Vec3b center = decoded->at<cv::Vec3b>(15, 20);
    EXPECT_GT(center[2], 200) << extension;  // still red (BGR order)
    EXPECT_LT(center[0], 60) << extension;
  }
}

TEST(ImageCodecTest, CorruptJpegFailsWithReason) {
  std::string corrupt = Encode(SolidImage(64, 64, kRed), ".jpg").substr(0, 3);
  corrupt += std::string(500, '\x5a');
  const absl::StatusOr<cv::Mat> decoded = DecodeImage(corrupt);
  EXPECT_TRUE(absl::IsInvalidArgument(decoded.status()));
  EXPECT_THAT(std::string(decoded.status().message()), StartsWith("corrupt JPEG"));
}

TEST(ImageCodecTest, OtherFormatsAreRefusedWithReason) {
  const absl::StatusOr<cv::Mat> bmp = DecodeImage(Encode(SolidImage(8, 8, kRed), ".bmp"));
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
    const absl::StatusOr<cv::Mat> decoded = DecodeImage(truncated);
    EXPECT_THAT(std::string(decoded.status().message()), StartsWith("corrupt JPEG")) << cut;
  }
}

TEST(ImageCodecTest, RefusesImagesPastThePixelLimitBeforeDecoding) {
  const std::string png = Encode(SolidImage(40, 30, kRed), ".png");
  EXPECT_TRUE(DecodeImage(png, {.max_pixels = 1200}).ok());
  const absl::StatusOr<cv::Mat> refused = DecodeImage(png, {.max_pixels = 1199});
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status()));
  EXPECT_EQ(refused.status().message(),
            "image too large: PNG of 40x30 pixels; the limit is 1199 pixels");
  EXPECT_EQ(ImageLimits().max_pixels, 120'000'000);
}

TEST(SquareCropTest, CenterSquareOfLandscapeAndPortrait) {
  const CropBox landscape = CenterSquare(640, 480);
  EXPECT_EQ(landscape.x, 80);
  EXPECT_EQ(landscape.y, 0);
  EXPECT_EQ(landscape.width, 480);
  EXPECT_EQ(landscape.height, 480);
  const CropBox portrait = CenterSquare(300, 501);
  EXPECT_EQ(portrait.x, 0);
  EXPECT_EQ(portrait.y, 100);
  EXPECT_EQ(portrait.width, 300);
  EXPECT_EQ(portrait.height, 300);
}

TEST(SquareCropTest, ShrinksToResolutionKeepingTheCentre) {
  // 900 wide: the centre square is x in [150, 750): 150 px of red, 300 green, 150 blue.
  const cv::Mat image = ThreeStripes(900, 600);
  const CropBox box = CenterSquare(image.cols, image.rows);
  const cv::Mat square = CropAndResize(image, box, 64);
  EXPECT_EQ(square.cols, 64);
  EXPECT_EQ(square.rows, 64);
  EXPECT_EQ(square.at<cv::Vec3b>(32, 2), cv::Vec3b(0, 0, 255));
  EXPECT_EQ(square.at<cv::Vec3b>(32, 32), cv::Vec3b(0, 255, 0));
  EXPECT_EQ(square.at<cv::Vec3b>(32, 61), cv::Vec3b(255, 0, 0));
}

TEST(SquareCropTest, EnlargesSmallImages) {
  const cv::Mat image = ThreeStripes(30, 20);
  const cv::Mat square = CropAndResize(image, CenterSquare(30, 20), 128);
  EXPECT_EQ(square.cols, 128);
  EXPECT_EQ(square.rows, 128);
  EXPECT_EQ(square.type(), CV_8UC3);
  EXPECT_EQ(square.at<cv::Vec3b>(64, 64), cv::Vec3b(0, 255, 0));
}

}  // namespace
}  // namespace easel::preprocess
