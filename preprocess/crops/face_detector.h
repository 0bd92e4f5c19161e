#ifndef EASEL_PREPROCESS_CROPS_FACE_DETECTOR_H_
#define EASEL_PREPROCESS_CROPS_FACE_DETECTOR_H_

#include <filesystem>
#include <optional>

#include <opencv2/core/mat.hpp>
#include <opencv2/objdetect.hpp>

#include "absl/status/statusor.h"

namespace easel::preprocess {

// Debian's opencv-data package.
inline constexpr char kDefaultFaceCascade[] =
    "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml";

// OpenCV's Haar-cascade face detector. Not thread-safe: one per thread.
class FaceDetector {
 public:
  // NotFound naming `cascade` when the file is missing or is not a cascade OpenCV can load.
  static absl::StatusOr<FaceDetector> Load(const std::filesystem::path& cascade);

  FaceDetector(FaceDetector&&) = default;
  FaceDetector& operator=(FaceDetector&&) = default;
  FaceDetector(const FaceDetector&) = delete;
  FaceDetector& operator=(const FaceDetector&) = delete;

  // The largest face in a BGR image, in its pixels; detection runs on a grey copy shrunk to
  // at most kDetectionSide pixels on its longer side.
  std::optional<cv::Rect> LargestFace(const cv::Mat& bgr);

  static constexpr int kDetectionSide = 640;

 private:
  explicit FaceDetector(cv::CascadeClassifier cascade) : cascade_(std::move(cascade)) {}

  cv::CascadeClassifier cascade_;
};

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_CROPS_FACE_DETECTOR_H_
