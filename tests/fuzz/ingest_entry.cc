#include "tests/fuzz/ingest_entry.h"

#include <optional>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "absl/status/statusor.h"
#include "preprocess/captions/caption_plan.h"
#include "preprocess/crops/crop_planner.h"
#include "preprocess/crops/salience.h"
#include "preprocess/images/image_codec.h"
#include "preprocess/ingest/archive_format.h"
#include "preprocess/ingest/archive_reader.h"
#include "preprocess/upscale/lanczos_upscaler.h"
#include "preprocess/upscale/resize.h"

namespace easel::preprocess::fuzz {
namespace {

constexpr int kFuzzResolution = 16;

// Decodes, crops around the salient part and resizes one file (and its mask); only a status
// other than InvalidArgument (the skip reasons) is worth returning.
absl::Status DecodeOne(std::string_view bytes) {
  const cv::Size target(kFuzzResolution, kFuzzResolution);
  const absl::StatusOr<DecodedImage> image =
      DecodeImage(bytes, FuzzImageLimits(), [](cv::Size) { return 8; });
  if (!image.ok()) {
    return absl::IsInvalidArgument(image.status()) ? absl::OkStatus() : image.status();
  }
  std::optional<cv::Point2d> focus = SalienceFocus(image->bgr);
  if (focus) {
    focus->x = focus->x * image->original_size.width / image->bgr.cols;
    focus->y = focus->y * image->original_size.height / image->bgr.rows;
  }
  const CropBox box = PlanCrop(image->original_size, target, focus);
  const cv::Rect region = ScaleCropBox(box, image->original_size, image->bgr.size());
  const absl::StatusOr<cv::Mat> resized =
      ResizeImage(image->bgr(region), target, LanczosUpscaler());
  if (!resized.ok()) return resized.status();
  if (resized->size() != target) return absl::InternalError("ResizeImage returned the wrong size");
  if (!image->mask.empty() && ResizeMask(image->mask(region), target).size() != target) {
    return absl::InternalError("ResizeMask returned the wrong size");
  }
  return absl::OkStatus();
}

}  // namespace

ArchiveLimits FuzzArchiveLimits() {
  return ArchiveLimits{.max_entries = 1000,
                       .max_file_bytes = 4 << 20,
                       .max_total_bytes = 16 << 20,
                       .max_compression_ratio = 200,
                       .ratio_floor_bytes = 1 << 20};
}

ImageLimits FuzzImageLimits() { return ImageLimits{.max_pixels = 1 << 20}; }

bool IsExpectedIngestStatus(const absl::Status& status) {
  return status.ok() || absl::IsInvalidArgument(status) || absl::IsResourceExhausted(status);
}

absl::Status IngestForFuzzing(std::string_view bytes) {
  try {
    if (DetectArchiveFormat(bytes.substr(0, kArchiveMagicBytes)) == ArchiveFormat::kUnknown) {
      return DecodeOne(bytes);
    }
    absl::StatusOr<ArchiveContents> contents = ReadArchiveFromMemory(bytes, FuzzArchiveLimits());
    if (!contents.ok()) return contents.status();
    const absl::Status planned =
        PlanCaptions(contents->files, {.token_string = "TOK", .caption_prefix = "a photo of TOK"})
            .status();
    if (!IsExpectedIngestStatus(planned)) return planned;
    for (const ArchiveFile& file : contents->files) {
      const absl::Status decoded = DecodeOne(file.data);
      if (!decoded.ok()) return decoded;
    }
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("exception escaped ingest: ") + e.what());
  }
}

}  // namespace easel::preprocess::fuzz
