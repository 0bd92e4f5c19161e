#ifndef EASEL_TESTS_TRAINER_DATA_DATASET_FIXTURE_H_
#define EASEL_TESTS_TRAINER_DATA_DATASET_FIXTURE_H_

#include <filesystem>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace easel::data::testing {

// A fresh, empty directory under the test temp dir, named after the running test.
std::filesystem::path FreshTempDir(const std::string& tag);

// Writes an RGB PNG of `size`x`size` with a deterministic pattern that depends on `pattern`
// (a soft coloured disc on a gradient).
void WriteSyntheticPng(const std::filesystem::path& path, int size, int pattern);

// The same pattern at `width` x `height`.
void WriteSyntheticPng(const std::filesystem::path& path, int width, int height, int pattern);

// Writes an 8-bit grey PNG whose pixel (x, y) is value(x, y).
void WriteMaskPng(const std::filesystem::path& path, int width, int height,
                  const std::function<uint8_t(int x, int y)>& value);

// Writes a prepared dataset (manifest.json + images/NNNN.png) with `count` synthetic images
// captioned "a photo of TOK, pattern N". Returns the manifest written.
nlohmann::json WriteSyntheticDataset(const std::filesystem::path& dir, int count, int size);

struct SyntheticImage {
  int width = 0;
  int height = 0;
  bool masked = false;  // masks/NNNN.png: the left half 255 (subject), the right half 0
};

// Writes a prepared dataset as `easel-preprocess --aspect-buckets` does: images/NNNN.png of
// the sizes given (pattern N), masks/NNNN.png for the masked ones, and per image
// original_width = 2 * width + 40, original_height = 2 * height + 20 and crop
// {x: 20 + 4N, y: 10, width: 2 * width, height: 2 * height}; top-level buckets lists the
// distinct sizes. Captions "a photo of TOK, pattern N". Returns the manifest written.
nlohmann::json WriteBucketedDataset(const std::filesystem::path& dir,
                                    const std::vector<SyntheticImage>& images, int resolution);

void WriteJson(const std::filesystem::path& path, const nlohmann::json& value);

}  // namespace easel::data::testing

#endif  // EASEL_TESTS_TRAINER_DATA_DATASET_FIXTURE_H_
