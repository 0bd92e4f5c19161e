#ifndef EASEL_TESTS_PREPROCESS_TEST_SUPPORT_H_
#define EASEL_TESTS_PREPROCESS_TEST_SUPPORT_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace easel::preprocess::testing {

// A width x height image of one BGR colour.
cv::Mat SolidImage(int width, int height, const cv::Scalar& bgr);

// `image` encoded in memory; `extension` is ".jpg", ".png" or ".webp".
std::string Encode(const cv::Mat& image, const std::string& extension);

struct ZipEntrySpec {
  std::string name;
  std::string data;
  std::optional<uint32_t> unix_mode;  // e.g. 0120777 for a symlink
  bool encrypt = false;
  bool directory = false;
};

// Writes a zip with libzip (zip_source_buffer); aborts the test binary on a libzip failure.
void WriteZip(const std::filesystem::path& path, const std::vector<ZipEntrySpec>& entries);

// A fresh empty directory for the running test, removed with everything in it on destruction.
class ScopedTempDir {
 public:
  ScopedTempDir();
  ~ScopedTempDir();
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string ReadFileBytes(const std::filesystem::path& path);
void WriteFileBytes(const std::filesystem::path& path, const std::string& data);

}  // namespace easel::preprocess::testing

#endif  // EASEL_TESTS_PREPROCESS_TEST_SUPPORT_H_
