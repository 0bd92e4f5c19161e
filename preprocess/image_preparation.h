#ifndef EASEL_PREPROCESS_IMAGE_PREPARATION_H_
#define EASEL_PREPROCESS_IMAGE_PREPARATION_H_

#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core/types.hpp>

#include "absl/status/statusor.h"
#include "preprocess/crops/crop_box.h"
#include "preprocess/crops/crop_focus.h"
#include "preprocess/images/image_codec.h"
#include "preprocess/upscale/upscaler.h"

namespace easel::preprocess {

struct ImageSettings {
  int resolution = 512;
  std::vector<cv::Size> buckets;  // empty: square crops at resolution x resolution
  ImageLimits limits;
  const Upscaler* upscaler = nullptr;  // not owned; must not be null
};

// One archive file, ready to be written: the training image (and its mask) as PNG.
struct PreparedImage {
  std::string pixels_sha256;  // of the decoded upright pixels, mask and size: finds duplicates
  std::string png;            // RGB at `size`
  std::string mask_png;       // 8-bit grey at `size`; empty when the image has no alpha
  cv::Size size;              // resolution x resolution, or the bucket
  cv::Size original_size;     // upright, in the file's pixels
  CropBox crop;               // in original_size pixels
  CropFocus focus = CropFocus::kCenter;  // what the crop was centred on
};

// The output size for an image of `original` size: the square, or the nearest bucket.
cv::Size OutputSize(const ImageSettings& settings, cv::Size original);

// Decodes `bytes` (a JPEG shrunk while decoding when it stays at least as large as the crop
// needs), finds the focus with `focus`, crops around it and resizes to the output size.
// InvalidArgument with the reason to skip the file (see DecodeImage); other errors are
// failures.
absl::StatusOr<PreparedImage> PrepareImage(std::string_view bytes, const ImageSettings& settings,
                                           FocusFinder& focus);

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_IMAGE_PREPARATION_H_
