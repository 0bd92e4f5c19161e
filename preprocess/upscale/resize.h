#ifndef EASEL_PREPROCESS_UPSCALE_RESIZE_H_
#define EASEL_PREPROCESS_UPSCALE_RESIZE_H_

#include <opencv2/core/mat.hpp>

#include "absl/status/statusor.h"
#include "preprocess/upscale/upscaler.h"

namespace easel::preprocess {

// `bgr` at `size`: a copy when it already has that size, area filtering (INTER_AREA) when
// neither side grows, `upscaler` when one does.
absl::StatusOr<cv::Mat> ResizeImage(const cv::Mat& bgr, cv::Size size, const Upscaler& upscaler);

// A mask resized with the same geometry: area filtering when shrinking, Lanczos when
// enlarging (a learned upscaler is for photos, not masks).
cv::Mat ResizeMask(const cv::Mat& mask, cv::Size size);

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_UPSCALE_RESIZE_H_
