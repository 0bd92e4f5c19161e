#ifndef EASEL_PREPROCESS_CROPS_CROP_PLANNER_H_
#define EASEL_PREPROCESS_CROPS_CROP_PLANNER_H_

#include <optional>

#include <opencv2/core/types.hpp>

#include "preprocess/crops/crop_box.h"

namespace easel::preprocess {

// The largest box inside an `image`-sized picture with the aspect ratio of `target`, placed
// so that its centre is as near `focus` as the picture allows (centred when there is no
// focus; odd margins round down). cog-sdxl's _crop_to_square, for any aspect ratio.
CropBox PlanCrop(cv::Size image, cv::Size target, std::optional<cv::Point2d> focus);

// `box`, planned on an `original`-sized picture, in the pixels of the same picture decoded
// at `decoded` size (smaller when the decoder shrank it); clamped to the decoded picture.
cv::Rect ScaleCropBox(const CropBox& box, cv::Size original, cv::Size decoded);

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_CROPS_CROP_PLANNER_H_
