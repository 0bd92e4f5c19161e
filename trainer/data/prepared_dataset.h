#ifndef EASEL_TRAINER_DATA_PREPARED_DATASET_H_
#define EASEL_TRAINER_DATA_PREPARED_DATASET_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"

namespace easel::data {

struct PreparedImage {
  std::string source;          // the name in the user's archive
  std::filesystem::path file;  // relative to the dataset directory
  std::string caption;
  std::string caption_source;
  int64_t width = 0;
  int64_t height = 0;
};

struct SkippedFile {
  std::string source;
  std::string reason;
};

// A prepared dataset directory as written by easel-preprocess: manifest.json plus images.
struct PreparedDataset {
  std::filesystem::path dir;
  int64_t resolution = 0;
  std::vector<PreparedImage> images;
  std::vector<SkippedFile> skipped;
  std::vector<std::string> warnings;
  torch::Tensor pixels;  // [N, 3, H, W] float32 in [-1, 1], in manifest order
  std::vector<std::string> captions() const;
};

inline constexpr char kManifestName[] = "manifest.json";
inline constexpr int kManifestVersion = 1;

// Reads manifest.json and decodes every image. Errors name the file (or manifest field);
// a manifest without images, or images of differing sizes, is InvalidArgument.
absl::StatusOr<PreparedDataset> LoadPreparedDataset(const std::filesystem::path& dir);

}  // namespace easel::data

#endif  // EASEL_TRAINER_DATA_PREPARED_DATASET_H_
