#include "preprocess/crops/crop_planner.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace easel::preprocess {
namespace {

// The start of a `length`-long span inside [0, extent) centred on `centre` when possible.
int PlaceSpan(int extent, int length, std::optional<double> centre) {
  const int free = extent - length;
  if (!centre) return free / 2;
  const int start = static_cast<int>(std::lround(*centre - length / 2.0));
  return std::clamp(start, 0, free);
}

int Scale(int value, int from, int to) {
  return static_cast<int>(std::lround(static_cast<double>(value) * to / from));
}

}  // namespace

CropBox PlanCrop(cv::Size image, cv::Size target, std::optional<cv::Point2d> focus) {
  CropBox box{.width = image.width, .height = image.height};
  // Compare image.width / image.height with target.width / target.height without rounding.
  const int64_t image_ratio = int64_t{image.width} * target.height;
  const int64_t target_ratio = int64_t{image.height} * target.width;
  if (image_ratio > target_ratio) {  // wider than the target: full height
    box.width = std::clamp(Scale(image.height, target.height, target.width), 1, image.width);
  } else if (image_ratio < target_ratio) {  // taller: full width
    box.height = std::clamp(Scale(image.width, target.width, target.height), 1, image.height);
  }
  box.x = PlaceSpan(image.width, box.width, focus ? std::optional(focus->x) : std::nullopt);
  box.y = PlaceSpan(image.height, box.height, focus ? std::optional(focus->y) : std::nullopt);
  return box;
}

cv::Rect ScaleCropBox(const CropBox& box, cv::Size original, cv::Size decoded) {
  if (original == decoded) return cv::Rect(box.x, box.y, box.width, box.height);
  const int left = std::clamp(Scale(box.x, original.width, decoded.width), 0, decoded.width - 1);
  const int top = std::clamp(Scale(box.y, original.height, decoded.height), 0, decoded.height - 1);
  const int right = std::clamp(Scale(box.x + box.width, original.width, decoded.width),
                               left + 1, decoded.width);
  const int bottom = std::clamp(Scale(box.y + box.height, original.height, decoded.height),
                                top + 1, decoded.height);
  return cv::Rect(left, top, right - left, bottom - top);
}

}  // namespace easel::preprocess
