#ifndef EASEL_TRAINER_LORA_LORA_H_
#define EASEL_TRAINER_LORA_LORA_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <torch/nn/module.h>
#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace easel::lora {

struct LoraOptions {
  int64_t rank = 4;
  double alpha = 4;
  std::vector<std::string> target_modules = {"to_q", "to_k", "to_v", "to_out.0"};
};

// One model that carries adapters, and the key prefix its tensors get in a file
// ("unet", "text_encoder").
struct LoraPart {
  std::string prefix;
  torch::nn::Module* module = nullptr;
};

struct NamedParameter {
  std::string name;  // "<prefix>.<module path>.lora_A.weight", as saved
  torch::Tensor parameter;
};

// What a LoRA file records besides its tensors (its __metadata__).
struct LoraInfo {
  int64_t rank = 0;
  double alpha = 0;
  std::string trigger_phrase;
  std::string base_model;
  std::vector<std::string> target_modules;
};

inline constexpr char kDiffusersLoraFormat[] = "diffusers-lora";

// Freezes every parameter of `part.module`, then enables a LoRA adapter on every
// LoraCompatibleLinear whose module path is, or ends with ".", a target. Returns the adapter
// parameters (the only trainable ones), sorted by name. No module matching is InvalidArgument.
absl::StatusOr<std::vector<NamedParameter>> InjectLora(const LoraPart& part,
                                                       const LoraOptions& options);

// The adapter tensors of `part` under their file names (detached, CPU, contiguous).
std::map<std::string, torch::Tensor> LoraStateDict(const LoraPart& part);

// Writes the adapters of all parts as diffusers/peft keys
// (`unet.<path>.lora_A.weight` / `.lora_B.weight`) with metadata easel.format=diffusers-lora,
// rank, alpha, trigger phrase and base model.
absl::Status SaveLora(const std::filesystem::path& path, const std::vector<LoraPart>& parts,
                      const LoraInfo& info);

// Loads a file written by SaveLora into the parts. A module named in the file that has no
// adapter yet gets one (rank from the tensor, alpha from the metadata). Missing adapter
// tensors, tensors naming no module, and shape mismatches are errors naming the keys.
absl::StatusOr<LoraInfo> LoadLora(const std::filesystem::path& path,
                                  const std::vector<LoraPart>& parts);

}  // namespace easel::lora

#endif  // EASEL_TRAINER_LORA_LORA_H_
