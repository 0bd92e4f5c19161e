#include "preprocess/crops/face_detector.h"

#include <algorithm>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace easel::preprocess {
namespace {

// Faces smaller than this share of the shorter side are ignored: a crop around them would
// rarely be what the user meant.
constexpr double kMinFaceShare = 0.05;
constexpr int kMinFacePixels = 24;

}  // namespace

absl::StatusOr<FaceDetector> FaceDetector::Load(const std::filesystem::path& cascade) {
  cv::CascadeClassifier classifier;
  bool loaded = false;
  try {
    loaded = std::filesystem::is_regular_file(cascade) && classifier.load(cascade.string());
  } catch (const cv::Exception&) {
    loaded = false;
  }
  if (!loaded || classifier.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "face cascade ", cascade.string(),
        " cannot be loaded (install Debian's opencv-data, or pass --face-cascade)"));
  }
  return FaceDetector(std::move(classifier));
}

std::optional<cv::Rect> FaceDetector::LargestFace(const cv::Mat& bgr) {
  const double scale =
      std::min(1.0, static_cast<double>(kDetectionSide) / std::max(bgr.cols, bgr.rows));
  cv::Mat small;
  if (scale < 1.0) {
    cv::resize(bgr, small, cv::Size(), scale, scale, cv::INTER_AREA);
  } else {
    small = bgr;
  }
  cv::Mat grey;
  cv::cvtColor(small, grey, cv::COLOR_BGR2GRAY);
  const int min_side = std::max(
      kMinFacePixels, static_cast<int>(std::min(grey.cols, grey.rows) * kMinFaceShare));
  if (min_side > std::min(grey.cols, grey.rows)) return std::nullopt;
  std::vector<cv::Rect> faces;
  cascade_.detectMultiScale(grey, faces, 1.1, 4, 0, cv::Size(min_side, min_side));
  if (faces.empty()) return std::nullopt;
  const cv::Rect largest = *std::max_element(
      faces.begin(), faces.end(), [](const cv::Rect& a, const cv::Rect& b) {
        return a.area() < b.area();
      });
  return cv::Rect(cv::Point(cvRound(largest.x / scale), cvRound(largest.y / scale)),
                  cv::Size(cvRound(largest.width / scale), cvRound(largest.height / scale)));
}

}  // namespace easel::preprocess
