#include "preprocess/crops/salience.h"

#include <algorithm>

#include <opencv2/imgproc.hpp>
#include <opencv2/saliency.hpp>

namespace easel::preprocess {
namespace {

constexpr int kMinSide = 8;
// A map whose values all lie within this share of its maximum is flat: nothing stands out.
constexpr double kMinContrast = 0.1;

}  // namespace

std::optional<cv::Point2d> SalienceFocus(const cv::Mat& bgr) {
  if (bgr.cols < kMinSide || bgr.rows < kMinSide) return std::nullopt;
  const double scale =
      std::min(1.0, static_cast<double>(kSalienceSide) / std::max(bgr.cols, bgr.rows));
  cv::Mat small;
  if (scale < 1.0) {
    cv::resize(bgr, small,
               cv::Size(std::max(kMinSide, cvRound(bgr.cols * scale)),
                        std::max(kMinSide, cvRound(bgr.rows * scale))),
               0, 0, cv::INTER_AREA);
  } else {
    small = bgr;
  }
  cv::Mat map;
  const cv::Ptr<cv::saliency::StaticSaliencySpectralResidual> saliency =
      cv::saliency::StaticSaliencySpectralResidual::create();
  if (!saliency->computeSaliency(small, map) || map.empty()) return std::nullopt;
  cv::patchNaNs(map, 0);
  double lowest = 0;
  double highest = 0;
  cv::minMaxLoc(map, &lowest, &highest);
  if (highest <= 0 || highest - lowest < kMinContrast * highest) return std::nullopt;
  cv::Scalar mean;
  cv::Scalar deviation;
  cv::meanStdDev(map, mean, deviation);
  cv::Mat strongest;
  cv::threshold(map, strongest, mean[0] + deviation[0], 0, cv::THRESH_TOZERO);
  const cv::Moments moments = cv::moments(strongest);
  if (moments.m00 <= 0) return std::nullopt;
  const double x_scale = static_cast<double>(bgr.cols) / small.cols;
  const double y_scale = static_cast<double>(bgr.rows) / small.rows;
  return cv::Point2d((moments.m10 / moments.m00 + 0.5) * x_scale,
                     (moments.m01 / moments.m00 + 0.5) * y_scale);
}

}  // namespace easel::preprocess
