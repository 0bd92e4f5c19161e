#include "preprocess/upscale/lanczos_upscaler.h"

#include <opencv2/imgproc.hpp>

namespace easel::preprocess {

absl::StatusOr<cv::Mat> LanczosUpscaler::Upscale(const cv::Mat& bgr, cv::Size size) const {
  cv::Mat enlarged;
  cv::resize(bgr, enlarged, size, 0, 0, cv::INTER_LANCZOS4);
  return enlarged;
}

}  // namespace easel::preprocess
