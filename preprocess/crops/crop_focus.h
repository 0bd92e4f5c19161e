#ifndef EASEL_PREPROCESS_CROPS_CROP_FOCUS_H_
#define EASEL_PREPROCESS_CROPS_CROP_FOCUS_H_

#include <filesystem>
#include <optional>

#include <opencv2/core/mat.hpp>

#include "absl/status/statusor.h"
#include "preprocess/crops/face_detector.h"

namespace easel::preprocess {

// What a crop is centred on.
enum class CropFocus { kCenter, kSalience, kFace };

// cog-sdxl's two switches: use_face_detection_instead picks the face; otherwise
// crop_based_on_salience picks salience; otherwise the centre.
CropFocus ChooseCropFocus(bool crop_based_on_salience, bool use_face_detection_instead);

// "center", "salience", "face": the names in the manifest.
const char* CropFocusName(CropFocus focus);

struct FocusPoint {
  std::optional<cv::Point2d> point;  // in the image's pixels; nullopt: the centre
  CropFocus used = CropFocus::kCenter;
};

// Finds the point to centre crops on, in the way chosen. Holds a face detector in face mode,
// so it is not thread-safe: one per thread.
class FocusFinder {
 public:
  // Loads the face cascade in face mode (NotFound naming the file when it cannot).
  static absl::StatusOr<FocusFinder> Create(CropFocus mode,
                                            const std::filesystem::path& face_cascade);

  // Face mode falls back to the centre when no face is found (`used` says kCenter); salience
  // too when nothing stands out.
  FocusPoint Find(const cv::Mat& bgr);

  CropFocus mode() const { return mode_; }

 private:
  FocusFinder(CropFocus mode, std::optional<FaceDetector> faces)
      : mode_(mode), faces_(std::move(faces)) {}

  CropFocus mode_;
  std::optional<FaceDetector> faces_;
};

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_CROPS_CROP_FOCUS_H_
