#ifndef EASEL_TESTS_TRAINER_DATA_DATASET_FIXTURE_H_
#define EASEL_TESTS_TRAINER_DATA_DATASET_FIXTURE_H_

#include <filesystem>
#include <string>

#include "nlohmann/json.hpp"

namespace easel::data::testing {

// A fresh, empty directory under the test temp dir, named after the running test.
std::filesystem::path FreshTempDir(const std::string& tag);

// Writes an RGB PNG of `size`x`size` with a deterministic pattern that depends on `pattern`
// (a soft coloured disc on a gradient).
void WriteSyntheticPng(const std::filesystem::path& path, int size, int pattern);

// Writes a prepared dataset (manifest.json + images/NNNN.png) with `count` synthetic images
// captioned "a photo of TOK, pattern N". Returns the manifest written.
nlohmann::json WriteSyntheticDataset(const std::filesystem::path& dir, int count, int size);

void WriteJson(const std::filesystem::path& path, const nlohmann::json& value);

}  // namespace easel::data::testing

#endif  // EASEL_TESTS_TRAINER_DATA_DATASET_FIXTURE_H_
