#include "preprocess/images/image_codec.h"

#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "preprocess/images/bgr_conversion.h"
#include "preprocess/images/exif_orientation.h"
#include "preprocess/images/image_format.h"
#include "preprocess/images/image_header.h"

namespace easel::preprocess {
namespace {

int ShrinkFactor(ImageFormat format, cv::Size original, const ShrinkAllowance& allowance) {
  if (format != ImageFormat::kJpeg || !allowance) return 1;
  const int allowed = allowance(original);
  for (int factor : {8, 4, 2}) {
    if (allowed >= factor) return factor;
  }
  return 1;
}

// JPEGs (which have no alpha; libjpeg converts grey and CMYK) are decoded to BGR, at 1/2, 1/4
// or 1/8 scale when allowed; PNG and WebP unchanged, to keep alpha and 16-bit samples.
// Orientation is applied afterwards, by ApplyExifOrientation, for every format alike.
int ImreadFlags(ImageFormat format, int shrink) {
  if (format != ImageFormat::kJpeg) return cv::IMREAD_UNCHANGED;
  int flags = cv::IMREAD_COLOR;
  if (shrink == 2) flags = cv::IMREAD_REDUCED_COLOR_2;
  if (shrink == 4) flags = cv::IMREAD_REDUCED_COLOR_4;
  if (shrink == 8) flags = cv::IMREAD_REDUCED_COLOR_8;
  return flags | cv::IMREAD_IGNORE_ORIENTATION;
}

absl::StatusOr<std::string> EncodePng(const cv::Mat& image) {
  try {
    std::vector<uchar> png;
    if (!cv::imencode(".png", image, png)) return absl::InternalError("PNG encoding failed");
    return std::string(png.begin(), png.end());
  } catch (const cv::Exception& e) {
    return absl::InternalError(absl::StrCat("PNG encoding failed: ", e.err));
  }
}

}  // namespace

absl::StatusOr<DecodedImage> DecodeImage(std::string_view bytes, const ImageLimits& limits,
                                         const ShrinkAllowance& shrink_allowance) {
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
  const int orientation = ReadExifOrientation(bytes, format);
  const cv::Size stored(static_cast<int>(size->width), static_cast<int>(size->height));
  const cv::Size upright =
      OrientationSwapsSides(orientation) ? cv::Size(stored.height, stored.width) : stored;
  const int shrink = ShrinkFactor(format, upright, shrink_allowance);
  try {
    const cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8U,
                          const_cast<char*>(bytes.data()));
    const cv::Mat raw = cv::imdecode(encoded, ImreadFlags(format, shrink));
    if (raw.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(corrupt, ": the image cannot be decoded"));
    }
    absl::StatusOr<BgrWithMask> pixels = ToBgrWithMask(raw);
    if (!pixels.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(corrupt, ": ", pixels.status().message()));
    }
    DecodedImage decoded{.bgr = ApplyExifOrientation(pixels->bgr, orientation),
                         .original_size = upright};
    if (!pixels->mask.empty()) decoded.mask = ApplyExifOrientation(pixels->mask, orientation);
    if (shrink == 1) decoded.original_size = decoded.bgr.size();
    return decoded;
  } catch (const cv::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(corrupt, ": ", e.err));
  }
}

absl::StatusOr<std::string> EncodeRgbPng(const cv::Mat& bgr) {
  if (bgr.empty() || bgr.type() != CV_8UC3) {
    return absl::InvalidArgumentError("EncodeRgbPng needs a non-empty 8-bit 3-channel image");
  }
  return EncodePng(bgr);
}

absl::StatusOr<std::string> EncodeMaskPng(const cv::Mat& mask) {
  if (mask.empty() || mask.type() != CV_8UC1) {
    return absl::InvalidArgumentError("EncodeMaskPng needs a non-empty 8-bit 1-channel image");
  }
  return EncodePng(mask);
}

}  // namespace easel::preprocess
