#include "tests/trainer/data/dataset_fixture.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <set>
#include <utility>
#include <unistd.h>
#include <stdexcept>
#include <vector>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <gtest/gtest.h>
#include <stb/stb_image_write.h>

#include "common/remove_tree.h"

namespace easel::data::testing {

namespace {

std::filesystem::path TempRoot() {
  return std::filesystem::temp_directory_path() /
         ("easel-trainer-test-" + std::to_string(::getpid()));
}

// Removes this process's temp directories when the test program ends.
class TempRootCleaner : public ::testing::Environment {
 public:
  void TearDown() override {
    easel::RemoveTree(TempRoot()).IgnoreError();
  }
};
[[maybe_unused]] ::testing::Environment* const kTempRootCleaner =
    ::testing::AddGlobalTestEnvironment(new TempRootCleaner);

}  // namespace

std::filesystem::path FreshTempDir(const std::string& tag) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = tag;
  if (info != nullptr) name = std::string(info->test_suite_name()) + "." + info->name() + "." + tag;
  std::filesystem::path dir = TempRoot() / name;
  easel::RemoveTree(dir).IgnoreError();
  std::filesystem::create_directories(dir);
  return dir;
}

void WriteSyntheticPng(const std::filesystem::path& path, int size, int pattern) {
  WriteSyntheticPng(path, size, size, pattern);
}

void WriteSyntheticPng(const std::filesystem::path& path, int width, int height, int pattern) {
  std::vector<uint8_t> rgb(static_cast<size_t>(width) * height * 3);
  const double cx = width * (0.3 + 0.1 * (pattern % 5));
  const double cy = height * (0.35 + 0.07 * (pattern % 4));
  const double radius = std::min(width, height) * 0.22;
  const int hue = pattern % 3;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      double d = std::hypot(x - cx, y - cy);
      double disc = 1.0 / (1.0 + std::exp((d - radius) / 1.5));
      double gradient = static_cast<double>(x + y) / static_cast<double>(width + height);
      for (int c = 0; c < 3; ++c) {
        double background = 40 + 120 * gradient * (c == 2 ? 1.0 : 0.5);
        double foreground = c == hue ? 230 : 60;
        rgb[(static_cast<size_t>(y) * width + x) * 3 + c] =
            static_cast<uint8_t>(background * (1 - disc) + foreground * disc);
      }
    }
  }
  std::filesystem::create_directories(path.parent_path());
  if (stbi_write_png(path.c_str(), width, height, 3, rgb.data(), width * 3) == 0) {
    throw std::runtime_error("cannot write " + path.string());
  }
}

void WriteMaskPng(const std::filesystem::path& path, int width, int height,
                  const std::function<uint8_t(int x, int y)>& value) {
  std::vector<uint8_t> grey(static_cast<size_t>(width) * height);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) grey[static_cast<size_t>(y) * width + x] = value(x, y);
  }
  std::filesystem::create_directories(path.parent_path());
  if (stbi_write_png(path.c_str(), width, height, 1, grey.data(), width) == 0) {
    throw std::runtime_error("cannot write " + path.string());
  }
}

void WriteJson(const std::filesystem::path& path, const nlohmann::json& value) {
  std::ofstream out(path);
  out << value.dump(2);
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

nlohmann::json WriteSyntheticDataset(const std::filesystem::path& dir, int count, int size) {
  nlohmann::json images = nlohmann::json::array();
  for (int i = 0; i < count; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "images/%04d.png", i);
    WriteSyntheticPng(dir / name, size, i);
    images.push_back({{"source", "photo" + std::to_string(i) + ".jpg"},
                      {"file", name},
                      {"caption", "a photo of TOK, pattern " + std::to_string(i)},
                      {"caption_source", "caption.csv"},
                      {"width", size},
                      {"height", size}});
  }
  nlohmann::json manifest = {{"version", 1},
                             {"resolution", size},
                             {"images", images},
                             {"skipped", {{{"source", "notes.txt"}, {"reason", "not an image"}}}},
                             {"warnings", nlohmann::json::array()}};
  WriteJson(dir / "manifest.json", manifest);
  return manifest;
}

nlohmann::json WriteBucketedDataset(const std::filesystem::path& dir,
                                    const std::vector<SyntheticImage>& images, int resolution) {
  nlohmann::json entries = nlohmann::json::array();
  std::set<std::pair<int, int>> sizes;
  for (size_t i = 0; i < images.size(); ++i) {
    const SyntheticImage& image = images[i];
    char name[32], mask[32];
    std::snprintf(name, sizeof(name), "images/%04zu.png", i);
    std::snprintf(mask, sizeof(mask), "masks/%04zu.png", i);
    WriteSyntheticPng(dir / name, image.width, image.height, static_cast<int>(i));
    sizes.insert({image.width, image.height});
    // As easel-preprocess records it: an original twice the size, cropped around the middle.
    nlohmann::json entry = {{"source", "photo" + std::to_string(i) + ".jpg"},
                            {"file", name}};
    if (image.masked) {
      // The subject is the left half; the right half was transparent.
      WriteMaskPng(dir / mask, image.width, image.height,
                   [&](int x, int) { return x < image.width / 2 ? 255 : 0; });
      entry["mask"] = mask;
    }
    entry.update({{"caption", "a photo of TOK, pattern " + std::to_string(i)},
                  {"caption_source", "caption_prefix"},
                  {"width", image.width},
                  {"height", image.height},
                  {"original_width", image.width * 2 + 40},
                  {"original_height", image.height * 2 + 20},
                  {"crop", {{"x", 20 + 4 * static_cast<int>(i)},
                            {"y", 10},
                            {"width", image.width * 2},
                            {"height", image.height * 2}}},
                  {"focus", "center"}});
    entries.push_back(std::move(entry));
  }
  nlohmann::json buckets = nlohmann::json::array();
  for (const auto& [width, height] : sizes) buckets.push_back({{"width", width}, {"height", height}});
  nlohmann::json manifest = {{"version", 1},
                             {"resolution", resolution},
                             {"buckets", buckets},
                             {"images", entries},
                             {"skipped", nlohmann::json::array()},
                             {"warnings", nlohmann::json::array()}};
  WriteJson(dir / "manifest.json", manifest);
  return manifest;
}

}  // namespace easel::data::testing
