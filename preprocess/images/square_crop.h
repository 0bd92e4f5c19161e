#ifndef EASEL_PREPROCESS_IMAGES_SQUARE_CROP_H_
#define EASEL_PREPROCESS_IMAGES_SQUARE_CROP_H_

#include <opencv2/core/mat.hpp>

#include "preprocess/images/crop_box.h"

namespace easel::preprocess {

// The largest square centred in a width x height image (odd margins round down).
CropBox CenterSquare(int width, int height);

// `image` cut to `box` and resized to resolution x resolution: INTER_AREA when shrinking,
// INTER_LANCZOS4 when enlarging, a plain copy when the size already matches.
cv::Mat CropAndResize(const cv::Mat& image, const CropBox& box, int resolution);

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_IMAGES_SQUARE_CROP_H_
