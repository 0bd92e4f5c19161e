#ifndef EASEL_PREPROCESS_UPSCALE_LANCZOS_UPSCALER_H_
#define EASEL_PREPROCESS_UPSCALE_LANCZOS_UPSCALER_H_

#include "preprocess/upscale/upscaler.h"

namespace easel::preprocess {

// OpenCV's Lanczos interpolation over 8x8 neighbourhoods (INTER_LANCZOS4).
class LanczosUpscaler : public Upscaler {
 public:
  absl::StatusOr<cv::Mat> Upscale(const cv::Mat& bgr, cv::Size size) const override;
  std::string_view name() const override { return "lanczos"; }
};

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_UPSCALE_LANCZOS_UPSCALER_H_
