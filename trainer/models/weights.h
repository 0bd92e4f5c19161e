#ifndef EASEL_TRAINER_MODELS_WEIGHTS_H_
#define EASEL_TRAINER_MODELS_WEIGHTS_H_

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <torch/nn/module.h>
#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace easel::models {

// Copies every tensor into owned CPU tensors (F16/BF16/F32, also F64 and integer types).
absl::StatusOr<std::map<std::string, torch::Tensor>> LoadSafetensors(
    const std::filesystem::path& path);

// Writes tensors (made contiguous, on CPU) in their own dtype.
absl::Status SaveSafetensors(const std::filesystem::path& path,
                             const std::map<std::string, torch::Tensor>& tensors,
                             const std::map<std::string, std::string>& metadata = {});

// Copies tensors into module parameters/buffers by name (converting dtype). Missing or
// shape-mismatched tensor -> error naming it and `what`; extra tensors are listed in *extra.
// lora_A/lora_B parameters are not required.
absl::Status LoadStateDict(torch::nn::Module& module,
                           const std::map<std::string, torch::Tensor>& tensors,
                           std::string_view what, std::vector<std::string>* extra = nullptr);

// Parameters and buffers by name, excluding lora_A/lora_B.
std::map<std::string, torch::Tensor> StateDict(const torch::nn::Module& module);

}  // namespace easel::models

#endif  // EASEL_TRAINER_MODELS_WEIGHTS_H_
