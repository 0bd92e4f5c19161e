#include "preprocess/manifest.h"

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace easel::preprocess {
namespace {

using ordered_json = nlohmann::ordered_json;

ordered_json ImageToJson(const ManifestImage& image) {
  ordered_json json;
  json["source"] = image.source;
  json["file"] = image.file;
  if (!image.mask.empty()) json["mask"] = image.mask;
  json["caption"] = image.caption;
  json["caption_source"] = image.caption_source;
  json["width"] = image.width;
  json["height"] = image.height;
  json["original_width"] = image.original_width;
  json["original_height"] = image.original_height;
  json["crop"] = ordered_json{{"x", image.crop.x},
                              {"y", image.crop.y},
                              {"width", image.crop.width},
                              {"height", image.crop.height}};
  if (!image.focus.empty()) json["focus"] = image.focus;
  return json;
}

std::string OptionalString(const nlohmann::json& json, const char* key) {
  return json.contains(key) ? json.at(key).get<std::string>() : std::string();
}

ManifestImage ImageFromJson(const nlohmann::json& json) {
  const nlohmann::json& crop = json.at("crop");
  return ManifestImage{.source = json.at("source").get<std::string>(),
                       .file = json.at("file").get<std::string>(),
                       .mask = OptionalString(json, "mask"),
                       .caption = json.at("caption").get<std::string>(),
                       .caption_source = json.at("caption_source").get<std::string>(),
                       .width = json.at("width").get<int>(),
                       .height = json.at("height").get<int>(),
                       .original_width = json.at("original_width").get<int>(),
                       .original_height = json.at("original_height").get<int>(),
                       .crop = CropBox{.x = crop.at("x").get<int>(),
                                       .y = crop.at("y").get<int>(),
                                       .width = crop.at("width").get<int>(),
                                       .height = crop.at("height").get<int>()},
                       .focus = OptionalString(json, "focus")};
}

}  // namespace

std::string SerializeManifest(const Manifest& manifest) {
  ordered_json images = ordered_json::array();
  for (const ManifestImage& image : manifest.images) images.push_back(ImageToJson(image));
  ordered_json skipped = ordered_json::array();
  for (const ManifestSkip& skip : manifest.skipped) {
    skipped.push_back(ordered_json{{"source", skip.source}, {"reason", skip.reason}});
  }
  ordered_json json{{"version", manifest.version}, {"resolution", manifest.resolution}};
  if (!manifest.buckets.empty()) {
    ordered_json buckets = ordered_json::array();
    for (const ManifestBucket& bucket : manifest.buckets) {
      buckets.push_back(ordered_json{{"width", bucket.width}, {"height", bucket.height}});
    }
    json["buckets"] = std::move(buckets);
  }
  json["images"] = std::move(images);
  json["skipped"] = std::move(skipped);
  json["warnings"] = manifest.warnings;
  return json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

absl::StatusOr<Manifest> ParseManifest(std::string_view text) {
  try {
    const nlohmann::json json = nlohmann::json::parse(text);
    Manifest manifest;
    manifest.version = json.at("version").get<int>();
    if (manifest.version != kManifestVersion) {
      return absl::InvalidArgumentError(absl::StrCat("manifest version ", manifest.version,
                                                     " is not supported (expected ",
                                                     kManifestVersion, ")"));
    }
    manifest.resolution = json.at("resolution").get<int>();
    if (json.contains("buckets")) {
      for (const nlohmann::json& bucket : json.at("buckets")) {
        manifest.buckets.push_back(
            {bucket.at("width").get<int>(), bucket.at("height").get<int>()});
      }
    }
    for (const nlohmann::json& image : json.at("images")) {
      manifest.images.push_back(ImageFromJson(image));
    }
    for (const nlohmann::json& skip : json.at("skipped")) {
      manifest.skipped.push_back({skip.at("source").get<std::string>(),
                                  skip.at("reason").get<std::string>()});
    }
    manifest.warnings = json.at("warnings").get<std::vector<std::string>>();
    return manifest;
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("malformed ", kManifestFileName, ": ", e.what()));
  }
}

}  // namespace easel::preprocess
