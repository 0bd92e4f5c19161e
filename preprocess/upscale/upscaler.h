#ifndef EASEL_PREPROCESS_UPSCALE_UPSCALER_H_
#define EASEL_PREPROCESS_UPSCALE_UPSCALER_H_

#include <string_view>

#include <opencv2/core/mat.hpp>

#include "absl/status/statusor.h"

namespace easel::preprocess {

// Enlarges images smaller than the training size: Lanczos interpolation now, a learned
// upscaler later. Implementations are called from several threads at once.
class Upscaler {
 public:
  virtual ~Upscaler() = default;

  // `bgr` (8-bit, 3 channels) resized to `size`, at least one side of which is larger than
  // the image's.
  virtual absl::StatusOr<cv::Mat> Upscale(const cv::Mat& bgr, cv::Size size) const = 0;

  // For logs and the manifest, e.g. "lanczos".
  virtual std::string_view name() const = 0;
};

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_UPSCALE_UPSCALER_H_
