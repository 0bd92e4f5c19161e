#include "tests/testing/dataset_zip.h"

#include <zip.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "opencv2/imgcodecs.hpp"
#include "opencv2/imgproc.hpp"

namespace easel::testing {

std::string MakePhoto(int width, int height, int seed, const std::string& extension) {
  cv::Mat image(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      image.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>((x * 255) / width),
                                            static_cast<uchar>((y * 255) / height),
                                            static_cast<uchar>((seed * 40) % 256));
    }
  }
  cv::RNG rng(static_cast<uint64_t>(seed) + 1);
  for (int i = 0; i < 3; ++i) {
    cv::Point center(rng.uniform(0, width), rng.uniform(0, height));
    cv::circle(image, center, rng.uniform(4, std::max(5, std::min(width, height) / 3)),
               cv::Scalar(rng.uniform(0, 255), rng.uniform(0, 255), rng.uniform(0, 255)),
               cv::FILLED);
  }
  std::vector<uchar> bytes;
  cv::imencode(extension, image, bytes);
  return std::string(bytes.begin(), bytes.end());
}

absl::Status WriteZip(const std::filesystem::path& path,
                      const std::map<std::string, std::string>& entries) {
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  if (archive == nullptr) return absl::InternalError(absl::StrCat("zip_open ", path.string()));
  for (const auto& [name, bytes] : entries) {
    zip_source_t* source = zip_source_buffer(archive, bytes.data(), bytes.size(), 0);
    if (source == nullptr || zip_file_add(archive, name.c_str(), source, ZIP_FL_ENC_UTF_8) < 0) {
      zip_source_free(source);
      zip_discard(archive);
      return absl::InternalError(absl::StrCat("cannot add ", name, " to ", path.string()));
    }
  }
  // zip_close reads the buffers, which `entries` keeps alive until here.
  if (zip_close(archive) != 0) {
    zip_discard(archive);
    return absl::InternalError(absl::StrCat("zip_close ", path.string()));
  }
  return absl::OkStatus();
}

std::map<std::string, std::string> ExampleDatasetEntries() {
  std::map<std::string, std::string> entries = {
      {"photo_1.jpg", MakePhoto(96, 80, 1, ".jpg")},
      {"photo_2.png", MakePhoto(64, 64, 2, ".png")},
      {"photo_3.jpg", MakePhoto(120, 90, 3, ".jpg")},
      {"photo_4.png", MakePhoto(48, 72, 4, ".png")},
      {"photo_5.jpg", MakePhoto(80, 80, 5, ".jpg")},
      {"photo_6.jpg", MakePhoto(100, 60, 6, ".jpg")},
  };
  entries["caption.csv"] =
      "image_file,caption\n"
      "photo_6.jpg,a photo of TOK at the beach\n"
      "photo_2.png,\"a photo of TOK, smiling\"\n"
      "photo_1.jpg,a photo of TOK in a red jacket\n";
  return entries;
}

}  // namespace easel::testing
