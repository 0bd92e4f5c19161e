#ifndef EASEL_TESTS_TESTING_DATASET_ZIP_H_
#define EASEL_TESTS_TESTING_DATASET_ZIP_H_

#include <filesystem>
#include <map>
#include <string>

#include "absl/status/status.h"

namespace easel::testing {

// A synthetic photo: a gradient background with a few shapes, encoded as ".jpg" or ".png"
// per `extension`. Different seeds give different pictures.
std::string MakePhoto(int width, int height, int seed, const std::string& extension);

// Writes a zip holding `entries` (name -> bytes).
absl::Status WriteZip(const std::filesystem::path& path,
                      const std::map<std::string, std::string>& entries);

// Six photos of mixed sizes and formats with a caption.csv naming them out of order.
std::map<std::string, std::string> ExampleDatasetEntries();

}  // namespace easel::testing

#endif  // EASEL_TESTS_TESTING_DATASET_ZIP_H_
