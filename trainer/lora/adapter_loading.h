#ifndef EASEL_TRAINER_LORA_ADAPTER_LOADING_H_
#define EASEL_TRAINER_LORA_ADAPTER_LOADING_H_

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <torch/types.h>

#include "absl/status/status.h"
#include "trainer/lora/lora.h"
#include "trainer/lora/lora_metadata.h"

namespace easel::lora {

using TensorMap = std::map<std::string, torch::Tensor>;

// kKohya when any key ends with .lora_down.weight or .lora_up.weight.
LoraKeyStyle DetectStyle(const TensorMap& tensors);

// Reads the adapters `tensors` (named in `style`) hold into the layers of `parts`. Kohya names
// are looked up among the parts' layers, never split on '_'. Tensors that name no layer, a
// layer with an adapter that the file lacks, a missing half of a pair and shape mismatches are
// InvalidArgument naming the keys and `path`; the parts are unchanged then.
absl::Status LoadAdapters(const std::filesystem::path& path, const TensorMap& tensors,
                          LoraKeyStyle style, const std::vector<LoraPart>& parts,
                          const DiffusersAlphas& alphas);

}  // namespace easel::lora

#endif  // EASEL_TRAINER_LORA_ADAPTER_LOADING_H_
