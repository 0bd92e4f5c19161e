#ifndef EASEL_PREPROCESS_IMAGES_EXIF_ORIENTATION_H_
#define EASEL_PREPROCESS_IMAGES_EXIF_ORIENTATION_H_

#include <string_view>

#include <opencv2/core/mat.hpp>

#include "preprocess/images/image_format.h"

namespace easel::preprocess {

// The EXIF Orientation tag (TIFF 6.0 tag 274, 1..8) of a JPEG (APP1 "Exif" segment), PNG
// (eXIf chunk) or WebP (EXIF chunk); 1 (upright) when there is none or it is unreadable.
int ReadExifOrientation(std::string_view bytes, ImageFormat format);

// Orientations 5..8 turn the picture by a quarter: its upright width is the stored height.
bool OrientationSwapsSides(int orientation);

// Turns `stored` pixels upright, as a viewer shows them for `orientation`.
cv::Mat ApplyExifOrientation(const cv::Mat& stored, int orientation);

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_IMAGES_EXIF_ORIENTATION_H_
