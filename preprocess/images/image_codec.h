#ifndef EASEL_PREPROCESS_IMAGES_IMAGE_CODEC_H_
#define EASEL_PREPROCESS_IMAGES_IMAGE_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>

#include <opencv2/core/mat.hpp>

#include "absl/status/statusor.h"

namespace easel::preprocess {

struct ImageLimits {
  // Images declaring more pixels than this in their header are refused before decoding
  // (120 million: a 102-megapixel medium-format photo passes; decoding one takes 3 bytes a
  // pixel, so 360 MB).
  int64_t max_pixels = 120'000'000;
};

// Decodes a JPEG, PNG or WebP held in memory into an 8-bit, 3-channel BGR image (OpenCV's
// order; alpha is dropped, EXIF orientation applied). The format is checked by magic bytes
// first, then the header is read (ReadImageSize) and the pixel count checked against
// `limits`; a JPEG without its end-of-image marker counts as truncated.
// InvalidArgument whose message is the reason to show the user: "not an image",
// "unsupported image format GIF …", "corrupt JPEG …", "image too large: …".
absl::StatusOr<cv::Mat> DecodeImage(std::string_view bytes, const ImageLimits& limits = {});

// A PNG of an 8-bit BGR image; the file holds RGB (colour type 2), no alpha.
absl::StatusOr<std::string> EncodeRgbPng(const cv::Mat& bgr);

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_IMAGES_IMAGE_CODEC_H_
