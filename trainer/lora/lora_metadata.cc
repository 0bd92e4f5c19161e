#include "trainer/lora/lora_metadata.h"

#include <array>
#include <cmath>
#include <exception>
#include <functional>
#include <initializer_list>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace easel::lora {
namespace {

using Json = nlohmann::json;

constexpr double kPeftDefaultAlpha = 8;  // LoraConfig's lora_alpha when a config omits it
constexpr char kKohyaNetworkModule[] = "networks.lora";
constexpr char kModelSpecVersion[] = "1.0.0";
constexpr char kModelSpecImplementation[] = "diffusers";  // keys use diffusers module names
constexpr char kTrainingParametersKey[] = "easel.training_parameters";

struct VersionSpec {
  BaseModelVersion version;
  std::string_view kohya;         // ss_base_model_version
  std::string_view architecture;  // modelspec.architecture without "/lora"
  std::string_view resolution;
  std::string_view prediction_type;
  bool v2;
};

constexpr std::array<VersionSpec, 4> kVersions = {{
    {BaseModelVersion::kSd1, "sd_v1", "stable-diffusion-v1", "512x512", "epsilon", false},
    {BaseModelVersion::kSd2, "sd_v2", "stable-diffusion-v2-512", "512x512", "epsilon", true},
    {BaseModelVersion::kSd2V768, "sd_v2_v", "stable-diffusion-v2-768-v", "768x768", "v", true},
    {BaseModelVersion::kSdxlBase, "sdxl_base_v1-0", "stable-diffusion-xl-v1-base", "1024x1024",
     "epsilon", false},
}};

const VersionSpec* FindVersion(BaseModelVersion version) {
  for (const VersionSpec& spec : kVersions) {
    if (spec.version == version) return &spec;
  }
  return nullptr;
}

// ss_* keys KohyaMetadata writes from the adapters and the info, not from training_parameters.
const std::set<std::string, std::less<>>& ReservedKohyaNames() {
  static const auto* names =
      new std::set<std::string, std::less<>>{"network_module",     "network_dim", "network_alpha",
                                             "base_model_version", "v2",          "sd_model_name"};
  return *names;
}

Json AlphaJson(double alpha) {
  if (alpha == std::round(alpha) && std::abs(alpha) < 1e15) {
    return static_cast<int64_t>(alpha);
  }
  return alpha;
}

std::string Lookup(const Metadata& metadata, const std::string& key) {
  auto it = metadata.find(key);
  return it == metadata.end() ? "" : it->second;
}

std::optional<double> ParseNumber(const Metadata& metadata, const std::string& key) {
  auto it = metadata.find(key);
  if (it == metadata.end()) return std::nullopt;
  try {
    return std::stod(it->second);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

absl::StatusOr<Json> ParseJsonEntry(const Metadata& metadata, const std::string& key,
                                    const std::filesystem::path& path) {
  auto it = metadata.find(key);
  if (it == metadata.end()) return Json::object();
  Json parsed = Json::parse(it->second, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path.string(), ": metadata entry ", key, " is not a JSON object"));
  }
  return parsed;
}

bool PatternMatches(std::string_view pattern, std::string_view module_path) {
  if (pattern.starts_with('^')) return pattern.substr(1) == module_path;
  return module_path == pattern || module_path.ends_with("." + std::string(pattern));
}

std::optional<double> JsonNumber(const Json& value) {
  if (!value.is_number()) return std::nullopt;
  return value.get<double>();
}

}  // namespace

std::string_view KohyaBaseModelVersion(BaseModelVersion version) {
  const VersionSpec* spec = FindVersion(version);
  return spec == nullptr ? "" : spec->kohya;
}

std::string ModelSpecArchitecture(BaseModelVersion version) {
  const VersionSpec* spec = FindVersion(version);
  return spec == nullptr ? "" : std::string(spec->architecture) + "/lora";
}

BaseModelVersion ParseBaseModelVersion(std::string_view text) {
  const std::string_view architecture = text.substr(0, text.find('/'));
  for (const VersionSpec& spec : kVersions) {
    if (text == spec.kohya || architecture == spec.architecture) return spec.version;
  }
  return BaseModelVersion::kUnknown;
}

Metadata DiffusersMetadata(const LoraInfo& info, const std::vector<PartAdapters>& parts) {
  Json config = Json::object();
  std::vector<AdapterSummary> all;
  for (const PartAdapters& part : parts) {
    if (part.adapters.empty()) continue;
    const int64_t rank = MostCommonRank(part.adapters);
    const double alpha = MostCommonAlpha(part.adapters);
    Json targets = Json::array();
    Json rank_pattern = Json::object();
    Json alpha_pattern = Json::object();
    for (const AdapterSummary& adapter : part.adapters) {
      targets.push_back(adapter.path);
      if (adapter.rank != rank) rank_pattern["^" + adapter.path] = adapter.rank;
      if (adapter.alpha != alpha) alpha_pattern["^" + adapter.path] = AlphaJson(adapter.alpha);
    }
    const std::string prefix = part.prefix + ".";
    config[prefix + "r"] = rank;
    config[prefix + "lora_alpha"] = AlphaJson(alpha);
    config[prefix + "target_modules"] = std::move(targets);
    config[prefix + "rank_pattern"] = std::move(rank_pattern);
    config[prefix + "alpha_pattern"] = std::move(alpha_pattern);
    all.insert(all.end(), part.adapters.begin(), part.adapters.end());
  }
  Metadata metadata = {
      {"format", "pt"},
      {kLoraAdapterMetadataKey, config.dump(2)},
      {"easel.format", kDiffusersLoraFormat},
      {"easel.rank", std::to_string(MostCommonRank(all))},
      {"easel.alpha", absl::StrCat(MostCommonAlpha(all))},
      {"easel.trigger_phrase", info.trigger_phrase},
      {"easel.base_model", info.base_model},
      {"easel.target_modules", absl::StrJoin(info.target_modules, ",")},
  };
  if (info.base_model_version != BaseModelVersion::kUnknown) {
    metadata["easel.base_model_version"] = KohyaBaseModelVersion(info.base_model_version);
  }
  if (!info.title.empty()) metadata["easel.title"] = info.title;
  if (!info.training_parameters.empty()) {
    metadata[kTrainingParametersKey] = Json(info.training_parameters).dump();
  }
  return metadata;
}

absl::StatusOr<Metadata> KohyaMetadata(const LoraInfo& info, const std::filesystem::path& path,
                                       int64_t rank, double alpha) {
  const VersionSpec* spec = FindVersion(info.base_model_version);
  if (spec == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "writing ", path.string(),
        ": a kohya-style LoRA needs LoraInfo::base_model_version (SD 1.x, SD 2.x or SDXL)"));
  }
  Metadata metadata = {
      {"format", "pt"},
      {"ss_network_module", kKohyaNetworkModule},
      {"ss_network_dim", std::to_string(rank)},
      {"ss_network_alpha", absl::StrCat(alpha)},
      {"ss_base_model_version", std::string(spec->kohya)},
      {"ss_v2", spec->v2 ? "True" : "False"},
      {"modelspec.sai_model_spec", kModelSpecVersion},
      {"modelspec.architecture", ModelSpecArchitecture(spec->version)},
      {"modelspec.implementation", kModelSpecImplementation},
      {"modelspec.title", info.title.empty() ? path.stem().string() : info.title},
      {"modelspec.resolution", std::string(spec->resolution)},
      {"modelspec.prediction_type", std::string(spec->prediction_type)},
      {"easel.format", kKohyaLoraFormat},
      {"easel.target_modules", absl::StrJoin(info.target_modules, ",")},
  };
  if (!info.trigger_phrase.empty()) metadata["modelspec.trigger_phrase"] = info.trigger_phrase;
  if (!info.base_model.empty()) metadata["ss_sd_model_name"] = info.base_model;
  for (const auto& [name, value] : info.training_parameters) {
    if (name.empty() || ReservedKohyaNames().contains(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("writing ", path.string(), ": training parameter \"", name,
                       "\" would overwrite metadata written from the adapters (ss_", name, ")"));
    }
    metadata["ss_" + name] = value;
  }
  return metadata;
}

absl::StatusOr<LoraInfo> ParseLoraInfo(const Metadata& metadata,
                                       const std::filesystem::path& path) {
  auto first = [&](std::initializer_list<std::string> keys) {
    for (const std::string& key : keys) {
      std::string value = Lookup(metadata, key);
      if (!value.empty()) return value;
    }
    return std::string();
  };
  LoraInfo info;
  info.rank =
      static_cast<int64_t>(ParseNumber(metadata, "easel.rank")
                               .value_or(ParseNumber(metadata, "ss_network_dim").value_or(0)));
  info.alpha = ParseNumber(metadata, "easel.alpha")
                   .value_or(ParseNumber(metadata, "ss_network_alpha").value_or(0));
  info.trigger_phrase = first({"easel.trigger_phrase", "modelspec.trigger_phrase"});
  info.base_model = first({"easel.base_model", "ss_sd_model_name"});
  info.title = first({"modelspec.title", "easel.title"});
  info.base_model_version = ParseBaseModelVersion(
      first({"modelspec.architecture", "ss_base_model_version", "easel.base_model_version"}));
  for (auto target :
       absl::StrSplit(Lookup(metadata, "easel.target_modules"), ',', absl::SkipEmpty())) {
    info.target_modules.emplace_back(target);
  }
  auto parameters = ParseJsonEntry(metadata, kTrainingParametersKey, path);
  if (!parameters.ok()) return parameters.status();
  for (const auto& [name, value] : parameters->items()) {
    info.training_parameters[name] = value.is_string() ? value.get<std::string>() : value.dump();
  }
  for (const auto& [key, value] : metadata) {
    if (!key.starts_with("ss_")) continue;
    const std::string name = key.substr(3);
    if (!ReservedKohyaNames().contains(name)) info.training_parameters[name] = value;
  }
  return info;
}

absl::StatusOr<DiffusersAlphas> DiffusersAlphas::FromMetadata(const Metadata& metadata,
                                                              const std::filesystem::path& path) {
  DiffusersAlphas alphas;
  auto config = ParseJsonEntry(metadata, kLoraAdapterMetadataKey, path);
  if (!config.ok()) return config.status();
  alphas.config_ = *std::move(config);
  if (auto alpha = ParseNumber(metadata, "easel.alpha"); alpha && *alpha > 0) {
    alphas.easel_alpha_ = alpha;
  }
  return alphas;
}

std::optional<double> DiffusersAlphas::For(const std::string& prefix,
                                           const std::string& module_path) const {
  const std::string part = prefix + ".";
  bool has_config = false;
  for (const auto& [key, value] : config_.items()) has_config |= key.starts_with(part);
  if (!has_config) return easel_alpha_;
  if (auto patterns = config_.find(part + "alpha_pattern");
      patterns != config_.end() && patterns->is_object()) {
    for (const auto& [pattern, value] : patterns->items()) {
      if (PatternMatches(pattern, module_path) && JsonNumber(value)) return JsonNumber(value);
    }
  }
  if (auto alpha = config_.find(part + "lora_alpha"); alpha != config_.end()) {
    if (auto number = JsonNumber(*alpha)) return number;
  }
  return kPeftDefaultAlpha;
}

}  // namespace easel::lora
