#include "tests/fuzz/ingest_entry.h"

#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "absl/status/statusor.h"
#include "preprocess/captions/caption_assignment.h"
#include "preprocess/captions/caption_csv.h"
#include "preprocess/images/square_crop.h"
#include "preprocess/ingest/archive_format.h"
#include "preprocess/ingest/archive_reader.h"

namespace easel::preprocess::fuzz {
namespace {

constexpr int kFuzzResolution = 16;

// Decodes and crops one file; only a status other than InvalidArgument (the skip reasons)
// is worth returning.
absl::Status DecodeOne(std::string_view bytes) {
  const absl::StatusOr<cv::Mat> image = DecodeImage(bytes, FuzzImageLimits());
  if (!image.ok()) {
    return absl::IsInvalidArgument(image.status()) ? absl::OkStatus() : image.status();
  }
  const CropBox box = CenterSquare(image->cols, image->rows);
  const cv::Mat square = CropAndResize(*image, box, kFuzzResolution);
  if (square.cols != kFuzzResolution || square.rows != kFuzzResolution) {
    return absl::InternalError("CropAndResize returned the wrong size");
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
    std::vector<std::string> names;
    for (const ArchiveFile& file : contents->files) names.push_back(file.name);
    for (const ArchiveFile& file : contents->files) {
      if (file.name == kCaptionCsvName || file.name.ends_with(std::string("/") + kCaptionCsvName)) {
        const absl::StatusOr<std::vector<CaptionRow>> rows = ParseCaptionCsv(file.data);
        if (rows.ok()) {
          const absl::Status assigned = AssignCaptions(*rows, names).status();
          if (!IsExpectedIngestStatus(assigned)) return assigned;
        } else if (!IsExpectedIngestStatus(rows.status())) {
          return rows.status();
        }
        continue;
      }
      const absl::Status decoded = DecodeOne(file.data);
      if (!decoded.ok()) return decoded;
    }
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("exception escaped ingest: ") + e.what());
  }
}

}  // namespace easel::preprocess::fuzz
