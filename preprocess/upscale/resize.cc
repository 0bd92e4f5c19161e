#include "preprocess/upscale/resize.h"

#include <opencv2/imgproc.hpp>

namespace easel::preprocess {
namespace {

bool Shrinks(const cv::Mat& image, cv::Size size) {
  return size.width <= image.cols && size.height <= image.rows;
}

}  // namespace

absl::StatusOr<cv::Mat> ResizeImage(const cv::Mat& bgr, cv::Size size, const Upscaler& upscaler) {
  if (bgr.size() == size) return bgr.clone();
  if (!Shrinks(bgr, size)) return upscaler.Upscale(bgr, size);
  cv::Mat shrunk;
  cv::resize(bgr, shrunk, size, 0, 0, cv::INTER_AREA);
  return shrunk;
}

cv::Mat ResizeMask(const cv::Mat& mask, cv::Size size) {
  if (mask.size() == size) return mask.clone();
  cv::Mat resized;
  cv::resize(mask, resized, size, 0, 0, Shrinks(mask, size) ? cv::INTER_AREA : cv::INTER_LANCZOS4);
  return resized;
}

}  // namespace easel::preprocess
