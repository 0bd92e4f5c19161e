#include <atomic>
#include <string_view>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "preprocess/upscale/lanczos_upscaler.h"
#include "preprocess/upscale/resize.h"
#include "tests/preprocess/test_support.h"

namespace easel::preprocess {
namespace {

using testing::SolidImage;

// Left third red, middle green, right third blue.
cv::Mat ThreeStripes(int width, int height) {
  cv::Mat image = SolidImage(width, height, cv::Scalar(0, 255, 0));
  image(cv::Rect(0, 0, width / 3, height)).setTo(cv::Scalar(0, 0, 255));
  image(cv::Rect(width - width / 3, 0, width / 3, height)).setTo(cv::Scalar(255, 0, 0));
  return image;
}

// Counts its calls and paints the result one colour, so a test sees who enlarged.
class PaintingUpscaler : public Upscaler {
 public:
  absl::StatusOr<cv::Mat> Upscale(const cv::Mat&, cv::Size size) const override {
    ++calls_;
    return cv::Mat(size, CV_8UC3, cv::Scalar(1, 2, 3));
  }
  std::string_view name() const override { return "painting"; }
  int calls() const { return calls_; }

 private:
  mutable std::atomic<int> calls_ = 0;
};

TEST(ResizeTest, ShrinksWithAreaFiltering) {
  const cv::Mat image = ThreeStripes(600, 600);
  const PaintingUpscaler upscaler;
  const absl::StatusOr<cv::Mat> shrunk = ResizeImage(image, {64, 64}, upscaler);
  ASSERT_TRUE(shrunk.ok()) << shrunk.status();
  cv::Mat area;
  cv::resize(image, area, {64, 64}, 0, 0, cv::INTER_AREA);
  EXPECT_EQ(cv::norm(*shrunk, area, cv::NORM_INF), 0);
  EXPECT_EQ(shrunk->at<cv::Vec3b>(32, 2), cv::Vec3b(0, 0, 255));
  EXPECT_EQ(shrunk->at<cv::Vec3b>(32, 61), cv::Vec3b(255, 0, 0));
  EXPECT_EQ(upscaler.calls(), 0);
}

TEST(ResizeTest, EnlargesThroughTheUpscaler) {
  const PaintingUpscaler upscaler;
  const absl::StatusOr<cv::Mat> enlarged = ResizeImage(ThreeStripes(30, 20), {128, 128}, upscaler);
  ASSERT_TRUE(enlarged.ok());
  EXPECT_EQ(enlarged->size(), cv::Size(128, 128));
  EXPECT_EQ(enlarged->at<cv::Vec3b>(5, 5), cv::Vec3b(1, 2, 3));
  EXPECT_EQ(upscaler.calls(), 1);
  // One side growing is enough.
  ASSERT_TRUE(ResizeImage(ThreeStripes(200, 50), {64, 64}, upscaler).ok());
  EXPECT_EQ(upscaler.calls(), 2);
}

TEST(ResizeTest, TheRightSizeIsACopy) {
  const cv::Mat image = ThreeStripes(64, 64);
  const absl::StatusOr<cv::Mat> same = ResizeImage(image, {64, 64}, PaintingUpscaler());
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(cv::norm(*same, image, cv::NORM_INF), 0);
  EXPECT_NE(same->data, image.data);
}

TEST(LanczosUpscalerTest, EnlargesKeepingTheCentre) {
  const LanczosUpscaler upscaler;
  const absl::StatusOr<cv::Mat> enlarged = ResizeImage(ThreeStripes(30, 20), {128, 128}, upscaler);
  ASSERT_TRUE(enlarged.ok());
  EXPECT_EQ(enlarged->type(), CV_8UC3);
  EXPECT_EQ(enlarged->at<cv::Vec3b>(64, 64), cv::Vec3b(0, 255, 0));
  EXPECT_EQ(upscaler.name(), "lanczos");
}

TEST(ResizeTest, MasksFollowTheSameGeometry) {
  cv::Mat mask(20, 30, CV_8UC1, cv::Scalar(255));
  mask(cv::Rect(0, 0, 15, 20)).setTo(0);
  const cv::Mat enlarged = ResizeMask(mask, {120, 80});
  ASSERT_EQ(enlarged.type(), CV_8UC1);
  ASSERT_EQ(enlarged.size(), cv::Size(120, 80));
  EXPECT_EQ(enlarged.at<uchar>(40, 10), 0);
  EXPECT_EQ(enlarged.at<uchar>(40, 110), 255);
  const cv::Mat shrunk = ResizeMask(enlarged, {12, 8});
  EXPECT_EQ(shrunk.at<uchar>(4, 1), 0);
  EXPECT_EQ(shrunk.at<uchar>(4, 10), 255);
}

}  // namespace
}  // namespace easel::preprocess
