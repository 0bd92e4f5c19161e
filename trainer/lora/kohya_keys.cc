#include "trainer/lora/kohya_keys.h"

#include <algorithm>
#include <cstddef>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace easel::lora {

std::string KohyaName(std::string_view kohya_prefix, std::string_view module_path) {
  std::string name = std::string(kohya_prefix) + std::string(module_path);
  std::replace(name.begin() + static_cast<std::ptrdiff_t>(kohya_prefix.size()), name.end(), '.',
               '_');
  return name;
}

absl::StatusOr<std::string> KohyaSavePrefix(const LoraPart& part, bool sdxl) {
  if (!part.kohya_prefix.empty()) return part.kohya_prefix;
  if (part.prefix == "unet") return std::string("lora_unet_");
  if (part.prefix == "text_encoder") return std::string(sdxl ? "lora_te1_" : "lora_te_");
  if (part.prefix == "text_encoder_2") return std::string("lora_te2_");
  return absl::InvalidArgumentError(
      absl::StrCat("no kohya key prefix is known for LoRA part \"", part.prefix,
                   "\" (known: unet, text_encoder, text_encoder_2); set LoraPart::kohya_prefix"));
}

std::vector<std::string> KohyaLoadPrefixes(const LoraPart& part) {
  if (!part.kohya_prefix.empty()) return {part.kohya_prefix};
  if (part.prefix == "unet") return {"lora_unet_"};
  if (part.prefix == "text_encoder") return {"lora_te_", "lora_te1_"};
  if (part.prefix == "text_encoder_2") return {"lora_te2_"};
  return {};
}

KohyaNames MapKohyaNames(const LayerMap& layers, const std::vector<std::string>& prefixes) {
  KohyaNames names;
  for (const std::string& prefix : prefixes) {
    for (const auto& [path, layer] : layers) {
      const std::string name = KohyaName(prefix, path);
      if (!names.paths.emplace(name, path).second) names.ambiguous.insert(name);
    }
  }
  return names;
}

std::optional<KohyaKey> SplitKohyaKey(std::string_view key) {
  for (auto [suffix, tensor] : {std::pair{std::string_view(kKohyaDown), KohyaTensor::kDown},
                                std::pair{std::string_view(kKohyaUp), KohyaTensor::kUp},
                                std::pair{std::string_view(kKohyaAlpha), KohyaTensor::kAlpha}}) {
    if (key.size() > suffix.size() && key.ends_with(suffix)) {
      return KohyaKey{std::string(key.substr(0, key.size() - suffix.size())), tensor};
    }
  }
  return std::nullopt;
}

bool IsKohyaWeightKey(std::string_view key) {
  return key.ends_with(kKohyaDown) || key.ends_with(kKohyaUp);
}

}  // namespace easel::lora
