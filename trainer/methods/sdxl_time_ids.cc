#include "trainer/methods/sdxl_time_ids.h"

#include <cmath>

namespace easel::methods {
namespace {

// `offset` of a crop `crop_size` long, in a frame where the crop is `target` long.
double ScaledOffset(int64_t offset, int64_t crop_size, int64_t target) {
  if (offset <= 0 || crop_size <= 0) return 0;
  return std::round(static_cast<double>(offset) * static_cast<double>(target) /
                    static_cast<double>(crop_size));
}

}  // namespace

std::array<double, 6> SdxlTimeIds(const data::PreparedImage& image, int64_t target_width,
                                  int64_t target_height) {
  const bool known = image.original_width > 0 && image.original_height > 0;
  const int64_t original_width = known ? image.original_width : target_width;
  const int64_t original_height = known ? image.original_height : target_height;
  return {static_cast<double>(original_height),
          static_cast<double>(original_width),
          ScaledOffset(image.crop.y, image.crop.height, target_height),
          ScaledOffset(image.crop.x, image.crop.width, target_width),
          static_cast<double>(target_height),
          static_cast<double>(target_width)};
}

}  // namespace easel::methods
