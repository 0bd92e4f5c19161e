#ifndef EASEL_PREPROCESS_IMAGES_IMAGE_CODEC_H_
#define EASEL_PREPROCESS_IMAGES_IMAGE_CODEC_H_

#include <cstdint>
#include <functional>
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

struct DecodedImage {
  cv::Mat bgr;  // CV_8UC3, upright; smaller than original_size when decoded shrunk
  // CV_8UC1 alpha of the same size (255 opaque), or empty when the image has no transparent
  // pixel; transparent pixels of `bgr` are composited onto grey (kNeutralBackground).
  cv::Mat mask;
  cv::Size original_size;  // the upright size of the image in the file
};

// The largest factor (1, 2, 4 or 8) by which the decoder may shrink an image of the given
// upright original size while decoding. Only JPEGs are shrunk (libjpeg's DCT scaling: each
// side becomes ceil(side / factor)).
using ShrinkAllowance = std::function<int(cv::Size original_size)>;

// Decodes a JPEG, PNG or WebP held in memory. The format is checked by magic bytes first,
// then the header is read (ReadImageSize) and the pixel count checked against `limits`; a
// JPEG without its end-of-image marker counts as truncated. Grey, palette, CMYK and 16-bit
// images come out as 8-bit BGR; EXIF orientation is applied (JPEG, PNG eXIf, WebP EXIF).
// InvalidArgument whose message is the reason to show the user: "not an image",
// "unsupported image format GIF …", "corrupt JPEG …", "image too large: …".
absl::StatusOr<DecodedImage> DecodeImage(std::string_view bytes, const ImageLimits& limits = {},
                                         const ShrinkAllowance& shrink_allowance = {});

// A PNG of an 8-bit BGR image; the file holds RGB (colour type 2), no alpha.
absl::StatusOr<std::string> EncodeRgbPng(const cv::Mat& bgr);

// A PNG of an 8-bit single-channel mask (colour type 0, greyscale).
absl::StatusOr<std::string> EncodeMaskPng(const cv::Mat& mask);

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_IMAGES_IMAGE_CODEC_H_
