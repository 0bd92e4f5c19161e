#include "tests/preprocess/test_support.h"

#include <zip.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "common/ids.h"

namespace easel::preprocess::testing {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "test support: " << what << std::endl;
  std::abort();
}

}  // namespace

cv::Mat SolidImage(int width, int height, const cv::Scalar& bgr) {
  return cv::Mat(height, width, CV_8UC3, bgr);
}

std::string Encode(const cv::Mat& image, const std::string& extension) {
  std::vector<uchar> bytes;
  if (!cv::imencode(extension, image, bytes)) Die("cannot encode " + extension);
  return std::string(bytes.begin(), bytes.end());
}

void WriteZip(const std::filesystem::path& path, const std::vector<ZipEntrySpec>& entries) {
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  if (archive == nullptr) Die("zip_open failed for " + path.string());
  for (const ZipEntrySpec& entry : entries) {
    zip_int64_t index = 0;
    if (entry.directory) {
      index = zip_dir_add(archive, entry.name.c_str(), ZIP_FL_ENC_UTF_8);
    } else {
      // The data lives in `entries` until zip_close, so libzip need not copy it.
      zip_source_t* source = zip_source_buffer(archive, entry.data.data(), entry.data.size(), 0);
      if (source == nullptr) Die("zip_source_buffer failed");
      index = zip_file_add(archive, entry.name.c_str(), source, ZIP_FL_ENC_UTF_8);
      if (index < 0) zip_source_free(source);
    }
    if (index < 0) Die("cannot add " + entry.name + ": " + zip_strerror(archive));
    const auto i = static_cast<zip_uint64_t>(index);
    if (entry.unix_mode &&
        zip_file_set_external_attributes(archive, i, 0, ZIP_OPSYS_UNIX, *entry.unix_mode << 16) !=
            0) {
      Die("cannot set attributes of " + entry.name);
    }
    if (entry.encrypt && zip_file_set_encryption(archive, i, ZIP_EM_AES_256, "secret") != 0) {
      Die("cannot encrypt " + entry.name + ": " + zip_strerror(archive));
    }
  }
  if (zip_close(archive) != 0) Die("zip_close failed: " + std::string(zip_strerror(archive)));
}

ScopedTempDir::ScopedTempDir() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  path_ = std::filesystem::path(::testing::TempDir()) /
          ("easel_preprocess_" + std::string(info->test_suite_name()) + "_" + info->name() + "_" +
           NewId(8));
  std::filesystem::create_directories(path_);
}

ScopedTempDir::~ScopedTempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string ReadFileBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteFileBytes(const std::filesystem::path& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

}  // namespace easel::preprocess::testing
