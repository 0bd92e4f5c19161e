#ifndef EASEL_PREPROCESS_IMAGES_BGR_CONVERSION_H_
#define EASEL_PREPROCESS_IMAGES_BGR_CONVERSION_H_

#include <opencv2/core/mat.hpp>

#include "absl/status/statusor.h"

namespace easel::preprocess {

// The grey that transparent pixels are composited onto (the same in B, G and R).
inline constexpr int kNeutralBackground = 127;

struct BgrWithMask {
  cv::Mat bgr;   // CV_8UC3
  cv::Mat mask;  // CV_8UC1 alpha (255 opaque), or empty when every pixel is opaque
};

// Any image OpenCV decodes unchanged -- 8- or 16-bit; grey, grey+alpha, BGR or BGRA -- as
// 8-bit BGR. 16-bit samples are scaled to 8 bits; alpha is composited onto
// kNeutralBackground and kept as the mask. InvalidArgument for other depths or channel counts.
absl::StatusOr<BgrWithMask> ToBgrWithMask(const cv::Mat& decoded);

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_IMAGES_BGR_CONVERSION_H_
