#ifndef EASEL_TRAINER_DATA_PREPARED_DATASET_H_
#define EASEL_TRAINER_DATA_PREPARED_DATASET_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"

namespace easel::data {

// A crop box in the original image's upright pixels.
struct CropBox {
  int64_t x = 0;
  int64_t y = 0;
  int64_t width = 0;
  int64_t height = 0;
};

struct PreparedImage {
  std::string source;          // the name in the user's archive
  std::filesystem::path file;  // relative to the dataset directory
  std::filesystem::path mask_file;  // relative; empty: the image has no mask
  std::string caption;
  std::string caption_source;
  int64_t width = 0;   // of the prepared image (its bucket)
  int64_t height = 0;
  // The uploaded image's upright size, 0 when the manifest does not give it (written before
  // it did), and the part of it that was cropped (without one in the manifest: the whole
  // original, or the whole prepared image).
  int64_t original_width = 0;
  int64_t original_height = 0;
  CropBox crop;
  torch::Tensor pixels;  // [3, height, width] float32 in [-1, 1]
  // [1, height, width] float32 in [0, 1]: 1 = subject, 0 = background (from alpha).
  // Undefined when the image has no mask.
  torch::Tensor mask;
};

struct SkippedFile {
  std::string source;
  std::string reason;
};

// Images of one size (an aspect-ratio bucket; a square dataset has one).
struct ImageBucket {
  int64_t width = 0;
  int64_t height = 0;
  std::vector<int64_t> images;  // indices into PreparedDataset::images, ascending
};

// A prepared dataset directory as written by easel-preprocess: manifest.json plus images
// (and masks/ for images with transparency).
struct PreparedDataset {
  std::filesystem::path dir;
  int64_t resolution = 0;
  std::vector<PreparedImage> images;  // in manifest order
  std::vector<ImageBucket> buckets;   // every image in exactly one; by (width, height)
  std::vector<SkippedFile> skipped;
  std::vector<std::string> warnings;

  std::vector<std::string> captions() const;
  // The pixels of one bucket's images, [n, 3, height, width], in the bucket's order.
  torch::Tensor BucketPixels(size_t bucket) const;
  int64_t masked_images() const;
};

inline constexpr char kManifestName[] = "manifest.json";
inline constexpr int kManifestVersion = 1;

// Reads manifest.json, decodes every image and mask, and groups the images by size into
// buckets (by the decoded sizes; the manifest's top-level "buckets" list is not needed). Errors name the file (or manifest field): a manifest without images, an image
// whose size differs from the manifest's width/height, or a mask of another size than its
// image is InvalidArgument. An all-zero mask (a fully transparent image) is dropped with a
// warning: the whole image is trained on.
absl::StatusOr<PreparedDataset> LoadPreparedDataset(const std::filesystem::path& dir);

}  // namespace easel::data

#endif  // EASEL_TRAINER_DATA_PREPARED_DATASET_H_
