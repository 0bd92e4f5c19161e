#include "trainer/lora/lora.h"

#include <algorithm>
#include <exception>
#include <memory>
#include <utility>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/safetensors.h"
#include "common/status_macros.h"
#include "trainer/lora/adapter_loading.h"
#include "trainer/lora/kohya_keys.h"
#include "trainer/lora/lora_layers.h"
#include "trainer/lora/lora_metadata.h"
#include "trainer/models/lora_compatible_layer.h"
#include "trainer/models/weights.h"

namespace easel::lora {
namespace {

bool MatchesTarget(const std::string& path, const std::vector<std::string>& targets) {
  for (const std::string& target : targets) {
    if (path == target || path.ends_with("." + target)) return true;
  }
  return false;
}

absl::Status CheckParts(const std::vector<LoraPart>& parts) {
  for (const LoraPart& part : parts) {
    if (part.module == nullptr || part.prefix.empty()) {
      return absl::InvalidArgumentError("LoRA part needs a module and a key prefix");
    }
  }
  return absl::OkStatus();
}

bool IsSdxl(const std::vector<LoraPart>& parts, const LoraInfo& info) {
  return info.base_model_version == BaseModelVersion::kSdxlBase ||
         std::any_of(parts.begin(), parts.end(),
                     [](const LoraPart& part) { return part.prefix == "text_encoder_2"; });
}

absl::StatusOr<TensorMap> KohyaTensors(const std::vector<LoraPart>& parts,
                                       const std::vector<PartAdapters>& adapters,
                                       const LoraInfo& info) {
  TensorMap tensors;
  std::map<std::string, std::string> owners;  // kohya name -> "<part>.<module path>"
  for (size_t i = 0; i < parts.size(); ++i) {
    if (adapters[i].adapters.empty()) continue;
    EASEL_ASSIGN_OR_RETURN(std::string kohya_prefix,
                           KohyaSavePrefix(parts[i], IsSdxl(parts, info)));
    LayerMap layers = LoraLayers(*parts[i].module);
    for (const AdapterSummary& adapter : adapters[i].adapters) {
      const std::string name = KohyaName(kohya_prefix, adapter.path);
      const std::string owner = absl::StrCat(parts[i].prefix, ".", adapter.path);
      auto [it, inserted] = owners.emplace(name, owner);
      if (!inserted) {
        return absl::InvalidArgumentError(absl::StrCat("modules ", it->second, " and ", owner,
                                                       " both get the kohya name ", name,
                                                       "; save this LoRA in diffusers style"));
      }
      const models::LoraCompatibleLayer& layer = *layers.at(adapter.path);
      tensors.emplace(name + kKohyaDown, layer.lora_A_weight().detach().cpu().contiguous());
      tensors.emplace(name + kKohyaUp, layer.lora_B_weight().detach().cpu().contiguous());
      tensors.emplace(name + kKohyaAlpha, torch::scalar_tensor(adapter.alpha, torch::kFloat32));
    }
  }
  return tensors;
}

}  // namespace

absl::StatusOr<std::vector<NamedParameter>> InjectLora(const LoraPart& part,
                                                       const LoraOptions& options) {
  EASEL_RETURN_IF_ERROR(CheckParts({part}));
  if (options.rank < 1) {
    return absl::InvalidArgumentError(absl::StrCat("LoRA rank must be >= 1, got ", options.rank));
  }
  if (!(options.alpha > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("LoRA alpha must be > 0, got ", options.alpha));
  }
  try {
    for (auto& parameter : part.module->parameters()) parameter.requires_grad_(false);
    int injected = 0;
    const LayerMap layers = LoraLayers(*part.module);
    for (const auto& [path, layer] : layers) {
      if (!MatchesTarget(path, options.target_modules)) continue;
      layer->EnableLora(options.rank, options.alpha);
      ++injected;
    }
    if (injected == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "no linear or convolution layer in ", part.prefix, " matches the LoRA target modules (",
          absl::StrJoin(options.target_modules, ", "), ")"));
    }
    std::vector<NamedParameter> trainable;
    for (const auto& [path, layer] : layers) {
      if (!layer->has_lora()) continue;
      trainable.push_back({absl::StrCat(part.prefix, ".", path, kLoraA), layer->lora_A_weight()});
      trainable.push_back({absl::StrCat(part.prefix, ".", path, kLoraB), layer->lora_B_weight()});
    }
    return trainable;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("injecting LoRA into ", part.prefix, ": ", e.what()));
  }
}

std::map<std::string, torch::Tensor> LoraStateDict(const LoraPart& part) {
  std::map<std::string, torch::Tensor> out;
  if (part.module == nullptr) return out;
  for (const auto& [path, layer] : LoraLayers(*part.module)) {
    if (!layer->has_lora()) continue;
    out.emplace(absl::StrCat(part.prefix, ".", path, kLoraA),
                layer->lora_A_weight().detach().cpu().contiguous());
    out.emplace(absl::StrCat(part.prefix, ".", path, kLoraB),
                layer->lora_B_weight().detach().cpu().contiguous());
  }
  return out;
}

absl::Status SaveLora(const std::filesystem::path& path, const std::vector<LoraPart>& parts,
                      const LoraInfo& info, LoraKeyStyle style) {
  EASEL_RETURN_IF_ERROR(CheckParts(parts));
  TensorMap tensors;
  Metadata metadata;
  try {
    std::vector<PartAdapters> adapters;
    std::vector<AdapterSummary> all;
    for (const LoraPart& part : parts) {
      adapters.push_back({part.prefix, Adapters(*part.module, info.alpha)});
      all.insert(all.end(), adapters.back().adapters.begin(), adapters.back().adapters.end());
    }
    if (all.empty()) {
      return absl::FailedPreconditionError("no LoRA adapters to save (InjectLora was not called)");
    }
    if (style == LoraKeyStyle::kKohya) {
      EASEL_ASSIGN_OR_RETURN(metadata,
                             KohyaMetadata(info, path, MostCommonRank(all), MostCommonAlpha(all)));
      EASEL_ASSIGN_OR_RETURN(tensors, KohyaTensors(parts, adapters, info));
    } else {
      for (const LoraPart& part : parts) tensors.merge(LoraStateDict(part));
      metadata = DiffusersMetadata(info, adapters);
    }
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("collecting LoRA weights for ", path.string(), ": ", e.what()));
  }
  return models::SaveSafetensors(path, tensors, metadata);
}

absl::StatusOr<LoraInfo> LoadLora(const std::filesystem::path& path,
                                  const std::vector<LoraPart>& parts) {
  EASEL_RETURN_IF_ERROR(CheckParts(parts));
  EASEL_ASSIGN_OR_RETURN(auto file, safetensors::File::Open(path));
  const Metadata metadata = file->metadata();
  file.reset();
  auto format = metadata.find("easel.format");
  if (format != metadata.end() && format->second != kDiffusersLoraFormat &&
      format->second != kKohyaLoraFormat) {
    return absl::InvalidArgumentError(
        absl::StrCat(path.string(), ": LoRA format \"", format->second, "\" is neither ",
                     kDiffusersLoraFormat, " nor ", kKohyaLoraFormat));
  }
  EASEL_ASSIGN_OR_RETURN(LoraInfo info, ParseLoraInfo(metadata, path));
  EASEL_ASSIGN_OR_RETURN(DiffusersAlphas alphas, DiffusersAlphas::FromMetadata(metadata, path));
  EASEL_ASSIGN_OR_RETURN(TensorMap tensors, models::LoadSafetensors(path));
  info.key_style = DetectStyle(tensors);
  try {
    EASEL_RETURN_IF_ERROR(LoadAdapters(path, tensors, info.key_style, parts, alphas));
    std::vector<AdapterSummary> loaded;
    for (const LoraPart& part : parts) {
      auto adapters = Adapters(*part.module, info.alpha);
      loaded.insert(loaded.end(), adapters.begin(), adapters.end());
    }
    if (info.rank == 0) info.rank = MostCommonRank(loaded);
    if (info.alpha == 0) info.alpha = MostCommonAlpha(loaded);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(path.string(), ": loading LoRA: ", e.what()));
  }
  return info;
}

}  // namespace easel::lora
