#include "preprocess/crops/crop_focus.h"

#include "common/status_macros.h"
#include "preprocess/crops/salience.h"

namespace easel::preprocess {

CropFocus ChooseCropFocus(bool crop_based_on_salience, bool use_face_detection_instead) {
  if (use_face_detection_instead) return CropFocus::kFace;
  return crop_based_on_salience ? CropFocus::kSalience : CropFocus::kCenter;
}

const char* CropFocusName(CropFocus focus) {
  switch (focus) {
    case CropFocus::kFace: return "face";
    case CropFocus::kSalience: return "salience";
    case CropFocus::kCenter: break;
  }
  return "center";
}

absl::StatusOr<FocusFinder> FocusFinder::Create(CropFocus mode,
                                                const std::filesystem::path& face_cascade) {
  if (mode != CropFocus::kFace) return FocusFinder(mode, std::nullopt);
  EASEL_ASSIGN_OR_RETURN(FaceDetector faces, FaceDetector::Load(face_cascade));
  return FocusFinder(mode, std::move(faces));
}

FocusPoint FocusFinder::Find(const cv::Mat& bgr) {
  if (mode_ == CropFocus::kFace) {
    if (const std::optional<cv::Rect> face = faces_->LargestFace(bgr)) {
      const cv::Point2d centre(face->x + face->width / 2.0, face->y + face->height / 2.0);
      return {.point = centre, .used = CropFocus::kFace};
    }
  } else if (mode_ == CropFocus::kSalience) {
    if (const std::optional<cv::Point2d> point = SalienceFocus(bgr)) {
      return {.point = point, .used = CropFocus::kSalience};
    }
  }
  return {};
}

}  // namespace easel::preprocess
