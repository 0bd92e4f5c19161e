#ifndef EASEL_PREPROCESS_PREPARE_DATASET_H_
#define EASEL_PREPROCESS_PREPARE_DATASET_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "preprocess/crops/face_detector.h"
#include "preprocess/images/image_codec.h"
#include "preprocess/ingest/archive.h"

namespace easel::preprocess {

inline constexpr int kMinResolution = 8;
inline constexpr int kMaxResolution = 4096;

struct PreprocessOptions {
  std::filesystem::path archive;  // zip, tar or tar.gz, recognised by its magic bytes
  std::filesystem::path output;   // the dataset directory to create
  int resolution = 512;           // images come out resolution x resolution (or bucketed)
  std::string token_string = "TOK";            // replaces the placeholder TOK in captions
  std::string caption_prefix = "a photo of TOK";  // caption of images without a row or sidecar
  // What crops are centred on, by cog-sdxl's switches: use_face_detection_instead, the
  // largest face (the centre when none is found); otherwise crop_based_on_salience, the
  // salient part; otherwise the centre.
  bool crop_based_on_salience = true;
  bool use_face_detection_instead = false;
  std::filesystem::path face_cascade = kDefaultFaceCascade;  // OpenCV Haar cascade (XML)
  // Crops to the aspect-ratio bucket nearest each image's (about resolution² pixels, sides
  // multiples of 64, 1:2 to 2:1) instead of a square.
  bool aspect_buckets = false;
  int64_t max_pixels = ImageLimits{}.max_pixels;  // larger images are skipped undecoded
  int threads = 0;  // images decoded at once; 0: one per core. The output does not depend on it
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
// `output`/images/NNNN.png (RGB, cropped around the focus and resized) and, for images with
// transparency, `output`/masks/NNNN.png; images numbered in the order of their source names.
// Images that cannot be used (other formats, corrupt files, a second copy of the same pixels)
// are listed in the manifest's "skipped" with the reason. Images are processed on
// `options.threads` threads; `on_progress` is called once per file, in source order, from one
// of them at a time. The output is written to a temporary directory beside `output` and
// renamed into place at the end.
// User errors (InvalidArgument, ResourceExhausted, FailedPrecondition, NotFound): bad options,
// a face cascade that cannot be loaded, a bad archive, bad captions, no usable image,
// `output` existing and not empty.
absl::StatusOr<PreprocessResult> PrepareDataset(const PreprocessOptions& options,
                                                const ProgressCallback& on_progress = {});

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_PREPARE_DATASET_H_
