#include "trainer/lora/lora.h"

#include <algorithm>
#include <exception>
#include <memory>
#include <set>
#include <utility>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/safetensors.h"
#include "common/status_macros.h"
#include "trainer/models/lora_compatible_linear.h"
#include "trainer/models/weights.h"

namespace easel::lora {
namespace {

using models::LoraCompatibleLinearImpl;

constexpr char kLoraA[] = ".lora_A.weight";
constexpr char kLoraB[] = ".lora_B.weight";
constexpr size_t kNamesInErrors = 5;

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

bool MatchesTarget(const std::string& path, const std::vector<std::string>& targets) {
  for (const std::string& target : targets) {
    if (path == target || EndsWith(path, "." + target)) return true;
  }
  return false;
}

// Module path -> linear layer, for every LoraCompatibleLinear in `module`.
std::map<std::string, std::shared_ptr<LoraCompatibleLinearImpl>> Linears(
    torch::nn::Module& module) {
  std::map<std::string, std::shared_ptr<LoraCompatibleLinearImpl>> out;
  for (const auto& item : module.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    if (auto linear = std::dynamic_pointer_cast<LoraCompatibleLinearImpl>(item.value())) {
      out.emplace(item.key(), std::move(linear));
    }
  }
  return out;
}

std::string ListSome(const std::vector<std::string>& names) {
  std::vector<std::string> shown(names.begin(),
                                 names.begin() + std::min(names.size(), kNamesInErrors));
  std::string out = absl::StrJoin(shown, ", ");
  if (names.size() > shown.size()) {
    absl::StrAppend(&out, " and ", names.size() - shown.size(), " more");
  }
  return out;
}

std::string ShapeString(const torch::Tensor& t) {
  std::vector<std::string> dims;
  for (int64_t d : t.sizes()) dims.push_back(std::to_string(d));
  return "[" + absl::StrJoin(dims, ",") + "]";
}

absl::Status CheckParts(const std::vector<LoraPart>& parts) {
  for (const LoraPart& part : parts) {
    if (part.module == nullptr || part.prefix.empty()) {
      return absl::InvalidArgumentError("LoRA part needs a module and a key prefix");
    }
  }
  return absl::OkStatus();
}

double ParseDouble(const std::map<std::string, std::string>& metadata, const std::string& key,
                   double fallback) {
  auto it = metadata.find(key);
  if (it == metadata.end()) return fallback;
  try {
    return std::stod(it->second);
  } catch (const std::exception&) {
    return fallback;
  }
}

std::string Lookup(const std::map<std::string, std::string>& metadata, const std::string& key) {
  auto it = metadata.find(key);
  return it == metadata.end() ? "" : it->second;
}

}  // namespace

absl::StatusOr<std::vector<NamedParameter>> InjectLora(const LoraPart& part,
                                                       const LoraOptions& options) {
  EASEL_RETURN_IF_ERROR(CheckParts({part}));
  if (options.rank < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("LoRA rank must be >= 1, got ", options.rank));
  }
  if (!(options.alpha > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("LoRA alpha must be > 0, got ", options.alpha));
  }
  try {
    for (auto& parameter : part.module->parameters()) parameter.requires_grad_(false);
    int injected = 0;
    for (auto& [path, linear] : Linears(*part.module)) {
      if (!MatchesTarget(path, options.target_modules)) continue;
      linear->EnableLora(options.rank, options.alpha);
      ++injected;
    }
    if (injected == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("no linear layer in ", part.prefix, " matches the LoRA target modules (",
                       absl::StrJoin(options.target_modules, ", "), ")"));
    }
    std::vector<NamedParameter> trainable;
    for (const auto& [path, linear] : Linears(*part.module)) {
      if (!linear->has_lora()) continue;
      trainable.push_back({absl::StrCat(part.prefix, ".", path, kLoraA), linear->lora_A()->weight});
      trainable.push_back({absl::StrCat(part.prefix, ".", path, kLoraB), linear->lora_B()->weight});
    }
    return trainable;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("injecting LoRA into ", part.prefix, ": ", e.what()));
  }
}

std::map<std::string, torch::Tensor> LoraStateDict(const LoraPart& part) {
  std::map<std::string, torch::Tensor> out;
  if (part.module == nullptr) return out;
  for (const auto& [path, linear] : Linears(*part.module)) {
    if (!linear->has_lora()) continue;
    out.emplace(absl::StrCat(part.prefix, ".", path, kLoraA),
                linear->lora_A()->weight.detach().cpu().contiguous());
    out.emplace(absl::StrCat(part.prefix, ".", path, kLoraB),
                linear->lora_B()->weight.detach().cpu().contiguous());
  }
  return out;
}

absl::Status SaveLora(const std::filesystem::path& path, const std::vector<LoraPart>& parts,
                      const LoraInfo& info) {
  EASEL_RETURN_IF_ERROR(CheckParts(parts));
  std::map<std::string, torch::Tensor> tensors;
  try {
    for (const LoraPart& part : parts) tensors.merge(LoraStateDict(part));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("collecting LoRA weights: ", e.what()));
  }
  if (tensors.empty()) {
    return absl::FailedPreconditionError("no LoRA adapters to save (InjectLora was not called)");
  }
  std::map<std::string, std::string> metadata = {
      {"format", "pt"},
      {"easel.format", kDiffusersLoraFormat},
      {"easel.rank", std::to_string(info.rank)},
      {"easel.alpha", absl::StrCat(info.alpha)},
      {"easel.trigger_phrase", info.trigger_phrase},
      {"easel.base_model", info.base_model},
      {"easel.target_modules", absl::StrJoin(info.target_modules, ",")},
  };
  return models::SaveSafetensors(path, tensors, metadata);
}

absl::StatusOr<LoraInfo> LoadLora(const std::filesystem::path& path,
                                  const std::vector<LoraPart>& parts) {
  EASEL_RETURN_IF_ERROR(CheckParts(parts));
  EASEL_ASSIGN_OR_RETURN(auto file, safetensors::File::Open(path));
  const auto& metadata = file->metadata();
  const std::string format = Lookup(metadata, "easel.format");
  if (!format.empty() && format != kDiffusersLoraFormat) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": LoRA format \"", format,
                                                   "\" is not ", kDiffusersLoraFormat));
  }
  LoraInfo info;
  info.rank = static_cast<int64_t>(ParseDouble(metadata, "easel.rank", 0));
  info.alpha = ParseDouble(metadata, "easel.alpha", 0);
  info.trigger_phrase = Lookup(metadata, "easel.trigger_phrase");
  info.base_model = Lookup(metadata, "easel.base_model");
  for (auto target : absl::StrSplit(Lookup(metadata, "easel.target_modules"), ',',
                                    absl::SkipEmpty())) {
    info.target_modules.emplace_back(target);
  }
  file.reset();
  EASEL_ASSIGN_OR_RETURN(auto tensors, models::LoadSafetensors(path));

  try {
    torch::NoGradGuard no_grad;
    std::set<std::string> used;
    std::vector<std::string> missing;
    for (const LoraPart& part : parts) {
      auto linears = Linears(*part.module);
      const std::string prefix = part.prefix + ".";
      // Give an adapter to every module the file names that has none yet.
      for (const auto& [name, tensor] : tensors) {
        if (name.rfind(prefix, 0) != 0 || !EndsWith(name, kLoraA)) continue;
        std::string module_path = name.substr(
            prefix.size(), name.size() - prefix.size() - std::string_view(kLoraA).size());
        auto it = linears.find(module_path);
        if (it == linears.end() || it->second->has_lora()) continue;
        if (tensor.dim() != 2) {
          return absl::InvalidArgumentError(absl::StrCat(path.string(), ": tensor ", name,
                                                         " has shape ", ShapeString(tensor)));
        }
        const int64_t rank = tensor.size(0);
        it->second->EnableLora(rank, info.alpha > 0 ? info.alpha : static_cast<double>(rank));
      }
      for (const auto& [module_path, linear] : linears) {
        if (!linear->has_lora()) continue;
        for (auto [suffix, target] : {std::pair{kLoraA, linear->lora_A()->weight},
                                      std::pair{kLoraB, linear->lora_B()->weight}}) {
          const std::string key = absl::StrCat(prefix, module_path, suffix);
          auto found = tensors.find(key);
          if (found == tensors.end()) {
            missing.push_back(key);
            continue;
          }
          if (found->second.sizes() != target.sizes()) {
            return absl::InvalidArgumentError(absl::StrCat(
                path.string(), ": tensor ", key, " has shape ", ShapeString(found->second),
                " but the model's adapter is ", ShapeString(target),
                " (was it trained with another rank or base model?)"));
          }
          target.copy_(found->second.to(target.scalar_type()));
          used.insert(key);
        }
      }
    }
    if (!missing.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(path.string(), ": missing LoRA tensors ",
                                                     ListSome(missing)));
    }
    std::vector<std::string> unexpected;
    for (const auto& [name, tensor] : tensors) {
      if (!used.contains(name)) unexpected.push_back(name);
    }
    if (!unexpected.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path.string(), ": tensors that name no LoRA layer of the model: ", ListSome(unexpected)));
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(path.string(), ": loading LoRA: ", e.what()));
  }
  if (info.rank == 0) {
    for (const LoraPart& part : parts) {
      for (const auto& [module_path, linear] : Linears(*part.module)) {
        if (linear->has_lora()) info.rank = linear->lora_rank();
      }
    }
  }
  if (info.alpha == 0) info.alpha = static_cast<double>(info.rank);
  return info;
}

}  // namespace easel::lora
