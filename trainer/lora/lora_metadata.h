#ifndef EASEL_TRAINER_LORA_LORA_METADATA_H_
#define EASEL_TRAINER_LORA_LORA_METADATA_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "trainer/lora/lora.h"
#include "trainer/lora/lora_layers.h"

namespace easel::lora {

using Metadata = std::map<std::string, std::string>;

inline constexpr char kLoraAdapterMetadataKey[] = "lora_adapter_metadata";

// kohya's ss_base_model_version ("sd_v1", "sd_v2", "sd_v2_v", "sdxl_base_v1-0") and
// modelspec.architecture ("stable-diffusion-v1/lora", ...); empty for kUnknown.
std::string_view KohyaBaseModelVersion(BaseModelVersion version);
std::string ModelSpecArchitecture(BaseModelVersion version);

// Reads either spelling back; kUnknown when it names no known model.
BaseModelVersion ParseBaseModelVersion(std::string_view text);

struct PartAdapters {
  std::string prefix;  // "unet", "text_encoder"
  std::vector<AdapterSummary> adapters;
};

// format, easel.* and lora_adapter_metadata: per part the peft LoraConfig arguments r,
// lora_alpha, target_modules (the adapted module paths), rank_pattern and alpha_pattern (for
// layers that differ from r / lora_alpha), each key prefixed "<part>.".
Metadata DiffusersMetadata(const LoraInfo& info, const std::vector<PartAdapters>& parts);

// format, ss_*, modelspec.* and easel.format / easel.target_modules. `rank` and `alpha` are the
// network's (ss_network_dim / ss_network_alpha). Needs info.base_model_version; a training
// parameter that would overwrite a key written here is InvalidArgument.
absl::StatusOr<Metadata> KohyaMetadata(const LoraInfo& info, const std::filesystem::path& path,
                                       int64_t rank, double alpha);

// What either style's metadata says (key_style is left to the caller). Malformed JSON in
// lora_adapter_metadata or easel.training_parameters is InvalidArgument naming the key.
absl::StatusOr<LoraInfo> ParseLoraInfo(const Metadata& metadata, const std::filesystem::path& path);

// The alpha a diffusers-style file states for a layer: its part's peft config
// (alpha_pattern, else lora_alpha, else peft's default when the part has a config), else
// easel.alpha; nullopt when the file says nothing.
class DiffusersAlphas {
 public:
  static absl::StatusOr<DiffusersAlphas> FromMetadata(const Metadata& metadata,
                                                      const std::filesystem::path& path);
  std::optional<double> For(const std::string& prefix, const std::string& module_path) const;

 private:
  nlohmann::json config_ = nlohmann::json::object();
  std::optional<double> easel_alpha_;
};

}  // namespace easel::lora

#endif  // EASEL_TRAINER_LORA_LORA_METADATA_H_
