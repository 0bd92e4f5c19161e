#include "preprocess/images/square_crop.h"

#include <algorithm>

#include <opencv2/imgproc.hpp>

namespace easel::preprocess {

CropBox CenterSquare(int width, int height) {
  const int side = std::min(width, height);
  return CropBox{.x = (width - side) / 2, .y = (height - side) / 2, .width = side, .height = side};
}

cv::Mat CropAndResize(const cv::Mat& image, const CropBox& box, int resolution) {
  const cv::Mat region = image(cv::Rect(box.x, box.y, box.width, box.height));
  if (box.width == resolution && box.height == resolution) return region.clone();
  const bool shrinking = box.width > resolution || box.height > resolution;
  cv::Mat resized;
  cv::resize(region, resized, cv::Size(resolution, resolution), 0, 0,
             shrinking ? cv::INTER_AREA : cv::INTER_LANCZOS4);
  return resized;
}

}  // namespace easel::preprocess
