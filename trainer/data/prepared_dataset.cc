#include "trainer/data/prepared_dataset.h"

#include <algorithm>
#include <exception>
#include <fstream>
#include <map>
#include <memory>
#include <tuple>
#include <utility>

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#include <stb/stb_image.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
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

// Leaves *out alone when `field` is absent or null.
absl::Status OptionalInt(const nlohmann::json& object, const char* field, int64_t min,
                         const std::filesystem::path& manifest, const std::string& where,
                         int64_t* out) {
  if (!object.contains(field) || object[field].is_null()) return absl::OkStatus();
  const nlohmann::json& value = object[field];
  if (!value.is_number_integer() || value.get<int64_t>() < min) {
    return ManifestError(manifest, absl::StrCat(where, ".", field, " must be an integer >= ", min,
                                                ", got ", value.dump()));
  }
  *out = value.get<int64_t>();
  return absl::OkStatus();
}

// Path must stay inside the dataset directory.
bool IsSafeRelative(const std::filesystem::path& path) {
  if (path.empty() || path.is_absolute()) return false;
  for (const auto& part : path) {
    if (part == "..") return false;
  }
  return true;
}

// [channels, H, W] uint8.
absl::StatusOr<torch::Tensor> DecodeBytes(const std::filesystem::path& path, int channels,
                                          const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path.string(), ": ", what, " file not found"));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  int width = 0, height = 0, found = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> decoded(
      stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()),
                            static_cast<int>(bytes.size()), &width, &height, &found, channels),
      stbi_image_free);
  if (!decoded) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": cannot decode ", what, " (",
                                                   stbi_failure_reason(), ")"));
  }
  return torch::from_blob(decoded.get(), {height, width, channels}, torch::kUInt8)
      .permute({2, 0, 1})
      .clone();
}

// [3, H, W] float32 in [-1, 1].
absl::StatusOr<torch::Tensor> DecodeImage(const std::filesystem::path& path) {
  EASEL_ASSIGN_OR_RETURN(torch::Tensor chw, DecodeBytes(path, 3, "image"));
  return chw.to(torch::kFloat32).div(127.5).sub(1.0).contiguous();
}

// [1, H, W] float32 in [0, 1].
absl::StatusOr<torch::Tensor> DecodeMask(const std::filesystem::path& path) {
  EASEL_ASSIGN_OR_RETURN(torch::Tensor chw, DecodeBytes(path, 1, "mask"));
  return chw.to(torch::kFloat32).div(255.0).contiguous();
}

absl::StatusOr<CropBox> ReadCrop(const nlohmann::json& entry, const std::filesystem::path& manifest,
                                 const std::string& where, const PreparedImage& image) {
  CropBox crop{.x = 0,
               .y = 0,
               .width = image.original_width > 0 ? image.original_width : image.width,
               .height = image.original_height > 0 ? image.original_height : image.height};
  if (!entry.contains("crop") || entry["crop"].is_null()) return crop;
  const nlohmann::json& json = entry["crop"];
  const std::string at = absl::StrCat(where, ".crop");
  if (!json.is_object()) return ManifestError(manifest, absl::StrCat(at, " is not an object"));
  EASEL_RETURN_IF_ERROR(OptionalInt(json, "x", 0, manifest, at, &crop.x));
  EASEL_RETURN_IF_ERROR(OptionalInt(json, "y", 0, manifest, at, &crop.y));
  EASEL_RETURN_IF_ERROR(OptionalInt(json, "width", 1, manifest, at, &crop.width));
  EASEL_RETURN_IF_ERROR(OptionalInt(json, "height", 1, manifest, at, &crop.height));
  return crop;
}

// One manifest entry, its image and mask decoded.
absl::StatusOr<PreparedImage> ReadImage(const std::filesystem::path& dir,
                                        const std::filesystem::path& manifest,
                                        const nlohmann::json& entry, size_t i,
                                        std::vector<std::string>& warnings) {
  const std::string where = absl::StrCat("images[", i, "]");
  if (!entry.is_object()) return ManifestError(manifest, absl::StrCat(where, " is not an object"));
  PreparedImage image;
  EASEL_ASSIGN_OR_RETURN(std::string file, RequiredString(entry, "file", manifest, i));
  image.file = file;
  if (!IsSafeRelative(image.file)) {
    return ManifestError(manifest, absl::StrCat(where, ".file \"", file,
                                                "\" must be a relative path inside the dataset"));
  }
  EASEL_ASSIGN_OR_RETURN(image.caption, RequiredString(entry, "caption", manifest, i));
  image.source = OptionalString(entry, "source");
  image.caption_source = OptionalString(entry, "caption_source");
  if (entry.contains("mask") && !entry["mask"].is_null()) {
    if (!entry["mask"].is_string() || !IsSafeRelative(entry["mask"].get<std::string>())) {
      return ManifestError(manifest, absl::StrCat(where, ".mask ", entry["mask"].dump(),
                                                  " must be a relative path inside the dataset"));
    }
    image.mask_file = entry["mask"].get<std::string>();
  }

  EASEL_ASSIGN_OR_RETURN(image.pixels, DecodeImage(dir / image.file));
  image.height = image.pixels.size(1);
  image.width = image.pixels.size(2);
  int64_t declared_width = image.width, declared_height = image.height;
  EASEL_RETURN_IF_ERROR(OptionalInt(entry, "width", 1, manifest, where, &declared_width));
  EASEL_RETURN_IF_ERROR(OptionalInt(entry, "height", 1, manifest, where, &declared_height));
  if (declared_width != image.width || declared_height != image.height) {
    return absl::InvalidArgumentError(absl::StrCat(
        (dir / image.file).string(), ": image is ", image.width, "x", image.height,
        " but the manifest says ", declared_width, "x", declared_height));
  }
  EASEL_RETURN_IF_ERROR(
      OptionalInt(entry, "original_width", 1, manifest, where, &image.original_width));
  EASEL_RETURN_IF_ERROR(
      OptionalInt(entry, "original_height", 1, manifest, where, &image.original_height));
  EASEL_ASSIGN_OR_RETURN(image.crop, ReadCrop(entry, manifest, where, image));

  if (!image.mask_file.empty()) {
    EASEL_ASSIGN_OR_RETURN(image.mask, DecodeMask(dir / image.mask_file));
    if (image.mask.size(1) != image.height || image.mask.size(2) != image.width) {
      return absl::InvalidArgumentError(absl::StrCat(
          (dir / image.mask_file).string(), ": mask is ", image.mask.size(2), "x",
          image.mask.size(1), " but its image ", image.file.string(), " is ", image.width, "x",
          image.height));
    }
    if (image.mask.max().item<float>() == 0.0f) {
      warnings.push_back(absl::StrCat(image.mask_file.string(), ": the mask of ",
                                      image.file.string(),
                                      " is empty (fully transparent); training uses the whole "
                                      "image"));
      image.mask = torch::Tensor();
    }
  }
  return image;
}

std::vector<ImageBucket> GroupBySize(const std::vector<PreparedImage>& images) {
  std::map<std::pair<int64_t, int64_t>, ImageBucket> by_size;
  for (size_t i = 0; i < images.size(); ++i) {
    ImageBucket& bucket = by_size[{images[i].width, images[i].height}];
    bucket.width = images[i].width;
    bucket.height = images[i].height;
    bucket.images.push_back(static_cast<int64_t>(i));
  }
  std::vector<ImageBucket> buckets;
  for (auto& [size, bucket] : by_size) buckets.push_back(std::move(bucket));
  return buckets;
}

}  // namespace

std::vector<std::string> PreparedDataset::captions() const {
  std::vector<std::string> out;
  out.reserve(images.size());
  for (const auto& image : images) out.push_back(image.caption);
  return out;
}

torch::Tensor PreparedDataset::BucketPixels(size_t bucket) const {
  std::vector<torch::Tensor> pixels;
  for (int64_t i : buckets.at(bucket).images) pixels.push_back(images[i].pixels);
  return torch::stack(pixels);
}

int64_t PreparedDataset::masked_images() const {
  return std::count_if(images.begin(), images.end(),
                       [](const PreparedImage& image) { return image.mask.defined(); });
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

  try {
    const auto& images = manifest["images"];
    for (size_t i = 0; i < images.size(); ++i) {
      EASEL_ASSIGN_OR_RETURN(PreparedImage image,
                             ReadImage(dir, manifest_path, images[i], i, dataset.warnings));
      dataset.images.push_back(std::move(image));
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(manifest_path.string(), ": ", e.what()));
  }
  dataset.buckets = GroupBySize(dataset.images);
  if (dataset.resolution == 0) dataset.resolution = dataset.images.front().width;
  return dataset;
}

}  // namespace easel::data
