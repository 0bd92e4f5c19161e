#ifndef EASEL_PREPROCESS_PREPARE_DATASET_H_
#define EASEL_PREPROCESS_PREPARE_DATASET_H_

#include <filesystem>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "preprocess/ingest/archive.h"

namespace easel::preprocess {

inline constexpr int kMinResolution = 8;
inline constexpr int kMaxResolution = 4096;

struct PreprocessOptions {
  std::filesystem::path archive;  // zip, tar or tar.gz, recognised by its magic bytes
  std::filesystem::path output;   // the dataset directory to create
  int resolution = 512;           // images come out resolution x resolution
  std::string token_string = "TOK";            // replaces the placeholder TOK in captions
  std::string caption_prefix = "a photo of TOK";  // caption of images caption.csv does not name
  ArchiveLimits limits;
};

struct ProgressUpdate {
  int step = 0;  // 1-based
  int total = 0;
  std::string message;
};
using ProgressCallback = std::function<void(const ProgressUpdate&)>;

struct PreprocessResult {
  int images = 0;
  int skipped = 0;
  std::filesystem::path manifest;  // absolute path of the committed manifest.json
};

// Turns an uploaded archive into a prepared dataset: `output`/manifest.json plus
// `output`/images/NNNN.png (RGB, centre-cropped to a square and resized), images numbered in
// the order of their source names. Images that cannot be used (other formats, corrupt files)
// are listed in the manifest's "skipped" with the reason. The output is written to a temporary
// directory beside `output` and renamed into place at the end.
// User errors (InvalidArgument, ResourceExhausted, FailedPrecondition, NotFound): bad options,
// a bad archive, bad captions, no usable image, `output` existing and not empty.
absl::StatusOr<PreprocessResult> PrepareDataset(const PreprocessOptions& options,
                                                const ProgressCallback& on_progress = {});

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_PREPARE_DATASET_H_
