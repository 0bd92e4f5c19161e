#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <opencv2/core.hpp>

#include "preprocess/crops/aspect_buckets.h"
#include "preprocess/crops/crop_focus.h"
#include "preprocess/crops/crop_planner.h"
#include "preprocess/crops/face_detector.h"
#include "preprocess/crops/salience.h"
#include "tests/preprocess/image_fixtures.h"

namespace easel::preprocess {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::DrawnFace;
using testing::NoisePatchImage;

void ExpectBox(const CropBox& box, int x, int y, int width, int height) {
  EXPECT_EQ(box.x, x);
  EXPECT_EQ(box.y, y);
  EXPECT_EQ(box.width, width);
  EXPECT_EQ(box.height, height);
}

TEST(CropPlannerTest, CentredSquareOfLandscapeAndPortrait) {
  ExpectBox(PlanCrop({640, 480}, {512, 512}, std::nullopt), 80, 0, 480, 480);
  ExpectBox(PlanCrop({300, 501}, {64, 64}, std::nullopt), 0, 100, 300, 300);
}

TEST(CropPlannerTest, CentresOnTheFocusAsFarAsTheImageAllows) {
  ExpectBox(PlanCrop({1000, 400}, {64, 64}, cv::Point2d(600, 10)), 400, 0, 400, 400);
  ExpectBox(PlanCrop({1000, 400}, {64, 64}, cv::Point2d(950, 200)), 600, 0, 400, 400);
  ExpectBox(PlanCrop({1000, 400}, {64, 64}, cv::Point2d(20, 390)), 0, 0, 400, 400);
  ExpectBox(PlanCrop({300, 900}, {64, 64}, cv::Point2d(150, 800)), 0, 600, 300, 300);
}

TEST(CropPlannerTest, KeepsTheTargetAspectRatio) {
  ExpectBox(PlanCrop({1000, 700}, {576, 448}, std::nullopt), 50, 0, 900, 700);
  ExpectBox(PlanCrop({1000, 700}, {320, 192}, std::nullopt), 0, 50, 1000, 600);
  ExpectBox(PlanCrop({640, 384}, {640, 384}, std::nullopt), 0, 0, 640, 384);
}

TEST(CropPlannerTest, ScalesABoxToAShrunkDecode) {
  const CropBox box{.x = 250, .y = 0, .width = 1500, .height = 1500};
  EXPECT_EQ(ScaleCropBox(box, {2000, 1500}, {2000, 1500}), cv::Rect(250, 0, 1500, 1500));
  EXPECT_EQ(ScaleCropBox(box, {2000, 1500}, {500, 375}), cv::Rect(63, 0, 375, 375));
  EXPECT_EQ(ScaleCropBox({.x = 0, .y = 0, .width = 1601, .height = 1200}, {1601, 1200},
                         {201, 150}),
            cv::Rect(0, 0, 201, 150));
}

TEST(AspectBucketsTest, BucketsForFiveHundredTwelve) {
  EXPECT_THAT(MakeAspectBuckets(512),
              ElementsAre(cv::Size(384, 640), cv::Size(448, 576), cv::Size(512, 512),
                          cv::Size(576, 448), cv::Size(640, 384)));
  EXPECT_THAT(MakeAspectBuckets(256),
              ElementsAre(cv::Size(192, 320), cv::Size(256, 256), cv::Size(320, 192)));
  EXPECT_TRUE(MakeAspectBuckets(63).empty());
}

TEST(AspectBucketsTest, EveryBucketFitsTheRules) {
  for (int resolution : {64, 100, 512, 768, 1024, 1000}) {
    const std::vector<cv::Size> buckets = MakeAspectBuckets(resolution);
    ASSERT_FALSE(buckets.empty()) << resolution;
    for (const cv::Size& bucket : buckets) {
      SCOPED_TRACE(::testing::PrintToString(bucket));
      EXPECT_EQ(bucket.width % kBucketStep, 0);
      EXPECT_EQ(bucket.height % kBucketStep, 0);
      EXPECT_LE(int64_t{bucket.width} * bucket.height, int64_t{resolution} * resolution);
      EXPECT_LE(bucket.width, 2 * bucket.height);
      EXPECT_LE(bucket.height, 2 * bucket.width);
      EXPECT_NE(std::find(buckets.begin(), buckets.end(), cv::Size(bucket.height, bucket.width)),
                buckets.end());
    }
  }
  const std::vector<cv::Size> sdxl = MakeAspectBuckets(1024);
  EXPECT_NE(std::find(sdxl.begin(), sdxl.end(), cv::Size(1024, 1024)), sdxl.end());
  EXPECT_NE(std::find(sdxl.begin(), sdxl.end(), cv::Size(1216, 832)), sdxl.end());
}

TEST(AspectBucketsTest, EachImageGoesToTheBucketOfNearestAspect) {
  const std::vector<cv::Size> buckets = MakeAspectBuckets(512);
  EXPECT_EQ(NearestBucket(buckets, {1600, 900}), cv::Size(640, 384));
  EXPECT_EQ(NearestBucket(buckets, {900, 1600}), cv::Size(384, 640));
  EXPECT_EQ(NearestBucket(buckets, {640, 480}), cv::Size(576, 448));
  EXPECT_EQ(NearestBucket(buckets, {300, 310}), cv::Size(512, 512));
  EXPECT_EQ(NearestBucket(buckets, {5000, 100}), cv::Size(640, 384));
}

TEST(SalienceTest, ATexturedPatchPullsTheFocus) {
  for (int x : {20, 280, 500}) {
    const cv::Rect patch(x, 110, 80, 80);
    const std::optional<cv::Point2d> focus =
        SalienceFocus(NoisePatchImage(600, 300, patch, /*seed=*/x));
    ASSERT_TRUE(focus.has_value()) << x;
    EXPECT_NEAR(focus->x, x + 40, 25) << x;
    EXPECT_NEAR(focus->y, 150, 25) << x;
  }
}

TEST(SalienceTest, AFlatImageHasNoFocus) {
  EXPECT_FALSE(SalienceFocus(cv::Mat(200, 300, CV_8UC3, cv::Scalar(40, 80, 120))).has_value());
  EXPECT_FALSE(SalienceFocus(cv::Mat(4, 4, CV_8UC3, cv::Scalar(0, 0, 0))).has_value());
}

TEST(FaceDetectorTest, FindsTheLargestDrawnFace) {
  absl::StatusOr<FaceDetector> detector = FaceDetector::Load(kDefaultFaceCascade);
  ASSERT_TRUE(detector.ok()) << detector.status();
  cv::Mat scene(600, 1200, CV_8UC3, cv::Scalar(60, 60, 60));
  DrawnFace(200).copyTo(scene(cv::Rect(50, 50, 200, 200)));
  DrawnFace(400).copyTo(scene(cv::Rect(700, 150, 400, 400)));
  const std::optional<cv::Rect> face = detector->LargestFace(scene);
  ASSERT_TRUE(face.has_value());
  EXPECT_NEAR(face->x + face->width / 2.0, 900, 30);
  EXPECT_NEAR(face->y + face->height / 2.0, 350, 30);
  EXPECT_GT(face->width, 150);
  EXPECT_FALSE(detector->LargestFace(cv::Mat(300, 300, CV_8UC3, cv::Scalar(90, 90, 90))));
}

TEST(FaceDetectorTest, AMissingCascadeIsNotFoundNamingTheFile) {
  const absl::StatusOr<FaceDetector> detector = FaceDetector::Load("/nonexistent/cascade.xml");
  EXPECT_TRUE(absl::IsNotFound(detector.status()));
  EXPECT_THAT(std::string(detector.status().message()), HasSubstr("/nonexistent/cascade.xml"));
}

TEST(CropFocusTest, SwitchesChooseAsCogSdxl) {
  EXPECT_EQ(ChooseCropFocus(true, false), CropFocus::kSalience);
  EXPECT_EQ(ChooseCropFocus(false, false), CropFocus::kCenter);
  EXPECT_EQ(ChooseCropFocus(true, true), CropFocus::kFace);
  EXPECT_EQ(ChooseCropFocus(false, true), CropFocus::kFace);
  EXPECT_STREQ(CropFocusName(CropFocus::kCenter), "center");
}

TEST(CropFocusTest, FaceModeWithoutAFaceFallsBackToTheCentre) {
  absl::StatusOr<FocusFinder> finder = FocusFinder::Create(CropFocus::kFace, kDefaultFaceCascade);
  ASSERT_TRUE(finder.ok()) << finder.status();
  const FocusPoint none = finder->Find(NoisePatchImage(600, 300, cv::Rect(500, 100, 80, 80)));
  EXPECT_FALSE(none.point.has_value());
  EXPECT_EQ(none.used, CropFocus::kCenter);

  cv::Mat scene(400, 900, CV_8UC3, cv::Scalar(60, 60, 60));
  DrawnFace(300).copyTo(scene(cv::Rect(560, 50, 300, 300)));
  const FocusPoint found = finder->Find(scene);
  ASSERT_TRUE(found.point.has_value());
  EXPECT_EQ(found.used, CropFocus::kFace);
  EXPECT_NEAR(found.point->x, 710, 30);
}

TEST(CropFocusTest, CentreModeFindsNothing) {
  absl::StatusOr<FocusFinder> finder = FocusFinder::Create(CropFocus::kCenter, "/unused");
  ASSERT_TRUE(finder.ok());
  const FocusPoint focus = finder->Find(NoisePatchImage(600, 300, cv::Rect(500, 100, 80, 80)));
  EXPECT_FALSE(focus.point.has_value());
  EXPECT_EQ(focus.used, CropFocus::kCenter);
}

}  // namespace
}  // namespace easel::preprocess
