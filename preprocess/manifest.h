#ifndef EASEL_PREPROCESS_MANIFEST_H_
#define EASEL_PREPROCESS_MANIFEST_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "preprocess/images/crop_box.h"

namespace easel::preprocess {

// The prepared dataset's manifest.json: the contract with the trainer. Paths in `file` are
// relative to the dataset directory.
inline constexpr char kManifestFileName[] = "manifest.json";
inline constexpr int kManifestVersion = 1;
inline constexpr char kCaptionSourceCsv[] = "caption.csv";
inline constexpr char kCaptionSourcePrefix[] = "caption_prefix";

struct ManifestImage {
  std::string source;          // entry path inside the uploaded archive
  std::string file;            // e.g. "images/0000.png"
  std::string caption;         // after placeholder substitution
  std::string caption_source;  // kCaptionSourceCsv or kCaptionSourcePrefix
  int width = 0;
  int height = 0;
  int original_width = 0;
  int original_height = 0;
  CropBox crop;  // in the original image's pixels
};

struct ManifestSkip {
  std::string source;
  std::string reason;
};

struct Manifest {
  int version = kManifestVersion;
  int resolution = 0;
  std::vector<ManifestImage> images;  // sorted by source
  std::vector<ManifestSkip> skipped;  // sorted by source
  std::vector<std::string> warnings;
};

// Pretty-printed JSON with the keys in the documented order.
std::string SerializeManifest(const Manifest& manifest);

// InvalidArgument naming the field when `json` is not a manifest of kManifestVersion.
absl::StatusOr<Manifest> ParseManifest(std::string_view json);

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_MANIFEST_H_
