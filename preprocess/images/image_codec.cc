#include "preprocess/images/image_codec.h"

#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "preprocess/images/image_format.h"
#include "preprocess/images/image_header.h"

namespace easel::preprocess {

absl::StatusOr<cv::Mat> DecodeImage(std::string_view bytes, const ImageLimits& limits) {
  const ImageFormat format = DetectImageFormat(bytes);
  if (format == ImageFormat::kUnknown) return absl::InvalidArgumentError("not an image");
  if (!IsSupportedImageFormat(format)) {
    return absl::InvalidArgumentError(absl::StrCat("unsupported image format ",
                                                   ImageFormatName(format),
                                                   " (use JPEG, PNG or WebP)"));
  }
  const std::string corrupt = absl::StrCat("corrupt ", ImageFormatName(format));
  const absl::StatusOr<ImageSize> size = ReadImageSize(bytes, format);
  if (!size.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(corrupt, ": ", size.status().message()));
  }
  // Both sides are below 2^31, so the product fits.
  if (size->width * size->height > limits.max_pixels) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image too large: ", ImageFormatName(format), " of ", size->width, "x", size->height,
        " pixels; the limit is ", limits.max_pixels, " pixels"));
  }
  try {
    const cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8U,
                          const_cast<char*>(bytes.data()));
    cv::Mat image = cv::imdecode(encoded, cv::IMREAD_COLOR);
    if (image.empty() || image.type() != CV_8UC3) {
      return absl::InvalidArgumentError(absl::StrCat(corrupt, ": the image cannot be decoded"));
    }
    return image;
  } catch (const cv::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(corrupt, ": ", e.err));
  }
}

absl::StatusOr<std::string> EncodeRgbPng(const cv::Mat& bgr) {
  if (bgr.empty() || bgr.type() != CV_8UC3) {
    return absl::InvalidArgumentError("EncodeRgbPng needs a non-empty 8-bit 3-channel image");
  }
  try {
    std::vector<uchar> png;
    if (!cv::imencode(".png", bgr, png)) return absl::InternalError("PNG encoding failed");
    return std::string(png.begin(), png.end());
  } catch (const cv::Exception& e) {
    return absl::InternalError(absl::StrCat("PNG encoding failed: ", e.err));
  }
}

}  // namespace easel::preprocess
