#include "trainer/data/prepared_dataset.h"

#include <exception>
#include <fstream>
#include <memory>
#include <utility>

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#include <stb/stb_image.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace easel::data {
namespace {

absl::Status ManifestError(const std::filesystem::path& manifest, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(manifest.string(), ": ", what));
}

absl::StatusOr<std::string> RequiredString(const nlohmann::json& entry, const char* field,
                                           const std::filesystem::path& manifest,
                                           size_t index) {
  if (!entry.contains(field) || !entry[field].is_string()) {
    return ManifestError(manifest, absl::StrCat("images[", index, "].", field,
                                                " is missing or not a string"));
  }
  return entry[field].get<std::string>();
}

std::string OptionalString(const nlohmann::json& entry, const char* field) {
  if (entry.contains(field) && entry[field].is_string()) return entry[field].get<std::string>();
  return "";
}

// Path must stay inside the dataset directory.
bool IsSafeRelative(const std::filesystem::path& path) {
  if (path.empty() || path.is_absolute()) return false;
  for (const auto& part : path) {
    if (part == "..") return false;
  }
  return true;
}

absl::StatusOr<torch::Tensor> DecodeImage(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path.string(), ": image file not found"));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  int width = 0, height = 0, channels = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> decoded(
      stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()),
                            static_cast<int>(bytes.size()), &width, &height, &channels, 3),
      stbi_image_free);
  if (!decoded) {
    return absl::InvalidArgumentError(
        absl::StrCat(path.string(), ": cannot decode image (", stbi_failure_reason(), ")"));
  }
  torch::Tensor hwc = torch::from_blob(decoded.get(), {height, width, 3}, torch::kUInt8);
  return hwc.permute({2, 0, 1}).to(torch::kFloat32).div(127.5).sub(1.0).contiguous();
}

}  // namespace

std::vector<std::string> PreparedDataset::captions() const {
  std::vector<std::string> out;
  out.reserve(images.size());
  for (const auto& image : images) out.push_back(image.caption);
  return out;
}

absl::StatusOr<PreparedDataset> LoadPreparedDataset(const std::filesystem::path& dir) {
  const std::filesystem::path manifest_path = dir / kManifestName;
  std::ifstream in(manifest_path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(manifest_path.string(), ": not found (is this a prepared dataset?)"));
  }
  nlohmann::json manifest = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (manifest.is_discarded() || !manifest.is_object()) {
    return ManifestError(manifest_path, "not a valid JSON object");
  }
  if (!manifest.contains("version") || !manifest["version"].is_number_integer() ||
      manifest["version"].get<int>() != kManifestVersion) {
    return ManifestError(manifest_path, absl::StrCat("version must be ", kManifestVersion));
  }

  PreparedDataset dataset;
  dataset.dir = dir;
  if (manifest.contains("resolution")) {
    if (!manifest["resolution"].is_number_integer() || manifest["resolution"].get<int64_t>() <= 0) {
      return ManifestError(manifest_path, "resolution must be a positive integer");
    }
    dataset.resolution = manifest["resolution"].get<int64_t>();
  }
  if (manifest.contains("skipped") && manifest["skipped"].is_array()) {
    for (const auto& entry : manifest["skipped"]) {
      dataset.skipped.push_back({OptionalString(entry, "source"), OptionalString(entry, "reason")});
    }
  }
  if (manifest.contains("warnings") && manifest["warnings"].is_array()) {
    for (const auto& warning : manifest["warnings"]) {
      dataset.warnings.push_back(warning.is_string() ? warning.get<std::string>()
                                                     : warning.dump());
    }
  }
  if (!manifest.contains("images") || !manifest["images"].is_array()) {
    return ManifestError(manifest_path, "images is missing or not an array");
  }
  if (manifest["images"].empty()) {
    return ManifestError(manifest_path, absl::StrCat("the dataset has no usable images (",
                                                     dataset.skipped.size(), " skipped)"));
  }

  std::vector<torch::Tensor> pixels;
  try {
    const auto& images = manifest["images"];
    for (size_t i = 0; i < images.size(); ++i) {
      const auto& entry = images[i];
      if (!entry.is_object()) {
        return ManifestError(manifest_path, absl::StrCat("images[", i, "] is not an object"));
      }
      PreparedImage image;
      auto file = RequiredString(entry, "file", manifest_path, i);
      if (!file.ok()) return file.status();
      image.file = *file;
      if (!IsSafeRelative(image.file)) {
        return ManifestError(manifest_path,
                             absl::StrCat("images[", i, "].file \"", *file,
                                          "\" must be a relative path inside the dataset"));
      }
      auto caption = RequiredString(entry, "caption", manifest_path, i);
      if (!caption.ok()) return caption.status();
      image.caption = *caption;
      image.source = OptionalString(entry, "source");
      image.caption_source = OptionalString(entry, "caption_source");

      auto decoded = DecodeImage(dir / image.file);
      if (!decoded.ok()) return decoded.status();
      image.height = decoded->size(1);
      image.width = decoded->size(2);
      if (!pixels.empty() && (decoded->sizes() != pixels.front().sizes())) {
        return absl::InvalidArgumentError(absl::StrCat(
            (dir / image.file).string(), ": image is ", image.width, "x", image.height,
            " but the dataset's first image is ", pixels.front().size(2), "x",
            pixels.front().size(1), "; a prepared dataset has one size"));
      }
      pixels.push_back(*std::move(decoded));
      dataset.images.push_back(std::move(image));
    }
    dataset.pixels = torch::stack(pixels);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(manifest_path.string(), ": ", e.what()));
  }
  if (dataset.resolution == 0) dataset.resolution = dataset.images.front().width;
  return dataset;
}

}  // namespace easel::data
