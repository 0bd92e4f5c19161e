#ifndef EASEL_PREPROCESS_IMAGES_IMAGE_CODEC_H_
#define EASEL_PREPROCESS_IMAGES_IMAGE_CODEC_H_

#include <string>
#include <string_view>

#include <opencv2/core/mat.hpp>

#include "absl/status/statusor.h"

namespace easel::preprocess {

// Decodes a JPEG, PNG or WebP held in memory into an 8-bit, 3-channel BGR image (OpenCV's
// order; alpha is dropped, EXIF orientation applied). The format is checked by magic bytes
// first. InvalidArgument whose message is the reason to show the user: "not an image",
// "unsupported image format GIF …", "corrupt JPEG …".
absl::StatusOr<cv::Mat> DecodeImage(std::string_view bytes);

// A PNG of an 8-bit BGR image; the file holds RGB (colour type 2), no alpha.
absl::StatusOr<std::string> EncodeRgbPng(const cv::Mat& bgr);

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_IMAGES_IMAGE_CODEC_H_
