#include "preprocess/image_preparation.h"

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "preprocess/crops/aspect_buckets.h"
#include "preprocess/crops/crop_planner.h"
#include "preprocess/upscale/resize.h"

namespace easel::preprocess {
namespace {

// How far a JPEG may shrink while decoding: the crop, at that scale, still covers the output.
int ShrinkAllowed(const ImageSettings& settings, cv::Size original) {
  const cv::Size output = OutputSize(settings, original);
  const CropBox crop = PlanCrop(original, output, std::nullopt);
  int factor = 1;
  while (factor < 8 && crop.width >= output.width * factor * 2 &&
         crop.height >= output.height * factor * 2) {
    factor *= 2;
  }
  return factor;
}

void HashRows(const cv::Mat& image, Sha256& hash) {
  const size_t row_bytes = image.cols * image.elemSize();
  for (int y = 0; y < image.rows; ++y) {
    hash.Update(std::string_view(image.ptr<char>(y), row_bytes));
  }
}

std::string PixelsSha256(const DecodedImage& image) {
  Sha256 hash;
  hash.Update(absl::StrCat(image.original_size.width, "x", image.original_size.height, ":",
                           image.bgr.cols, "x", image.bgr.rows, image.mask.empty() ? "" : "+mask",
                           "\n"));
  HashRows(image.bgr, hash);
  if (!image.mask.empty()) HashRows(image.mask, hash);
  return hash.Hex();
}

cv::Point2d ToOriginal(cv::Point2d point, cv::Size decoded, cv::Size original) {
  return cv::Point2d(point.x * original.width / decoded.width,
                     point.y * original.height / decoded.height);
}

}  // namespace

cv::Size OutputSize(const ImageSettings& settings, cv::Size original) {
  if (settings.buckets.empty()) return cv::Size(settings.resolution, settings.resolution);
  return NearestBucket(settings.buckets, original);
}

absl::StatusOr<PreparedImage> PrepareImage(std::string_view bytes, const ImageSettings& settings,
                                           FocusFinder& focus) {
  EASEL_ASSIGN_OR_RETURN(
      const DecodedImage decoded,
      DecodeImage(bytes, settings.limits,
                  [&](cv::Size original) { return ShrinkAllowed(settings, original); }));
  PreparedImage prepared{.pixels_sha256 = PixelsSha256(decoded),
                         .size = OutputSize(settings, decoded.original_size),
                         .original_size = decoded.original_size};
  const FocusPoint found = focus.Find(decoded.bgr);
  prepared.focus = found.used;
  std::optional<cv::Point2d> point;
  if (found.point) point = ToOriginal(*found.point, decoded.bgr.size(), decoded.original_size);
  prepared.crop = PlanCrop(decoded.original_size, prepared.size, point);
  const cv::Rect region = ScaleCropBox(prepared.crop, decoded.original_size, decoded.bgr.size());
  EASEL_ASSIGN_OR_RETURN(const cv::Mat image,
                         ResizeImage(decoded.bgr(region), prepared.size, *settings.upscaler));
  EASEL_ASSIGN_OR_RETURN(prepared.png, EncodeRgbPng(image));
  if (!decoded.mask.empty()) {
    EASEL_ASSIGN_OR_RETURN(prepared.mask_png,
                           EncodeMaskPng(ResizeMask(decoded.mask(region), prepared.size)));
  }
  return prepared;
}

}  // namespace easel::preprocess
