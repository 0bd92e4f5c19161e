#ifndef EASEL_PREPROCESS_MANIFEST_H_
#define EASEL_PREPROCESS_MANIFEST_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "preprocess/crops/crop_box.h"

namespace easel::preprocess {

// The prepared dataset's manifest.json: the contract with the trainer. Paths in `file` are
// relative to the dataset directory.
inline constexpr char kManifestFileName[] = "manifest.json";
inline constexpr int kManifestVersion = 1;

// Fields added after version 1 was first written ("mask", "focus", "buckets") are optional:
// a reader that does not know them loses nothing it needs.

struct ManifestImage {
  std::string source;          // entry path inside the uploaded archive
  std::string file;            // e.g. "images/0000.png"
  std::string mask;            // e.g. "masks/0000.png" (255 = opaque); empty: no alpha
  std::string caption;         // after placeholder substitution
  std::string caption_source;  // "caption.csv row 3", "photos/a.txt" or "caption_prefix"
  int width = 0;
  int height = 0;
  int original_width = 0;
  int original_height = 0;
  CropBox crop;       // in the original image's pixels (upright, full size)
  std::string focus;  // what the crop is centred on: "face", "salience", "center"
};

struct ManifestBucket {
  int width = 0;
  int height = 0;
};

struct ManifestSkip {
  std::string source;
  std::string reason;
};

struct Manifest {
  int version = kManifestVersion;
  int resolution = 0;
  std::vector<ManifestBucket> buckets;  // the aspect-ratio buckets; empty: square images
  std::vector<ManifestImage> images;    // sorted by source
  std::vector<ManifestSkip> skipped;  // sorted by source
  std::vector<std::string> warnings;
};

// Pretty-printed JSON with the keys in the documented order.
std::string SerializeManifest(const Manifest& manifest);

// InvalidArgument naming the field when `json` is not a manifest of kManifestVersion.
absl::StatusOr<Manifest> ParseManifest(std::string_view json);

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_MANIFEST_H_
