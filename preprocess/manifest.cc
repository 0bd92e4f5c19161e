#include "preprocess/manifest.h"

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace easel::preprocess {
namespace {

using ordered_json = nlohmann::ordered_json;

ordered_json ImageToJson(const ManifestImage& image) {
  return ordered_json{{"source", image.source},
                      {"file", image.file},
                      {"caption", image.caption},
                      {"caption_source", image.caption_source},
                      {"width", image.width},
                      {"height", image.height},
                      {"original_width", image.original_width},
                      {"original_height", image.original_height},
                      {"crop",
                       ordered_json{{"x", image.crop.x},
                                    {"y", image.crop.y},
                                    {"width", image.crop.width},
                                    {"height", image.crop.height}}}};
}

ManifestImage ImageFromJson(const nlohmann::json& json) {
  const nlohmann::json& crop = json.at("crop");
  return ManifestImage{.source = json.at("source").get<std::string>(),
                       .file = json.at("file").get<std::string>(),
                       .caption = json.at("caption").get<std::string>(),
                       .caption_source = json.at("caption_source").get<std::string>(),
                       .width = json.at("width").get<int>(),
                       .height = json.at("height").get<int>(),
                       .original_width = json.at("original_width").get<int>(),
                       .original_height = json.at("original_height").get<int>(),
                       .crop = CropBox{.x = crop.at("x").get<int>(),
                                       .y = crop.at("y").get<int>(),
                                       .width = crop.at("width").get<int>(),
                                       .height = crop.at("height").get<int>()}};
}

}  // namespace

std::string SerializeManifest(const Manifest& manifest) {
  ordered_json images = ordered_json::array();
  for (const ManifestImage& image : manifest.images) images.push_back(ImageToJson(image));
  ordered_json skipped = ordered_json::array();
  for (const ManifestSkip& skip : manifest.skipped) {
    skipped.push_back(ordered_json{{"source", skip.source}, {"reason", skip.reason}});
  }
  const ordered_json json{{"version", manifest.version},
                          {"resolution", manifest.resolution},
                          {"images", std::move(images)},
                          {"skipped", std::move(skipped)},
                          {"warnings", manifest.warnings}};
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
