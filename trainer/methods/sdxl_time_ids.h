#ifndef EASEL_TRAINER_METHODS_SDXL_TIME_IDS_H_
#define EASEL_TRAINER_METHODS_SDXL_TIME_IDS_H_

#include <array>
#include <cstdint>

#include "trainer/data/prepared_dataset.h"

namespace easel::methods {

// SDXL's micro-conditioning for one training image, as diffusers' train_text_to_image_sdxl
// computes it: (original_height, original_width, crop_top, crop_left, target_height,
// target_width).
//   original_size: the uploaded image's upright size (the manifest's original_height,
//     original_width);
//   crop top-left: where the crop starts, in the pixels of the original scaled so that the
//     crop is the target size -- diffusers resizes first and crops after, so its (y1, x1) are
//     in that frame: round(crop.y * target_height / crop.height),
//     round(crop.x * target_width / crop.width);
//   target_size: the size the image is trained at (its bucket).
// An image whose manifest entry has no original size is taken to be its own original at the
// target size: (h, w, 0, 0, h, w) for target h x w, as before the manifest had them.
std::array<double, 6> SdxlTimeIds(const data::PreparedImage& image, int64_t target_width,
                                  int64_t target_height);

}  // namespace easel::methods

#endif  // EASEL_TRAINER_METHODS_SDXL_TIME_IDS_H_
