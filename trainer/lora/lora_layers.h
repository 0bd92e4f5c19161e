#ifndef EASEL_TRAINER_LORA_LORA_LAYERS_H_
#define EASEL_TRAINER_LORA_LORA_LAYERS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "trainer/models/lora_compatible_layer.h"
#include "trainer/models/lora_compatible_linear.h"

namespace easel::lora {

inline constexpr char kLoraA[] = ".lora_A.weight";  // diffusers/peft suffixes
inline constexpr char kLoraB[] = ".lora_B.weight";

using LayerMap = std::map<std::string, std::shared_ptr<models::LoraCompatibleLayer>>;
using LinearMap = std::map<std::string, std::shared_ptr<models::LoraCompatibleLinearImpl>>;

// Module path -> layer, for every layer of `module` that can carry an adapter
// (LoraCompatibleLinear, LoraCompatibleConv2d).
LayerMap LoraLayers(torch::nn::Module& module);

// Module path -> layer, for every LoraCompatibleLinear in `module`.
LinearMap Linears(torch::nn::Module& module);

// One layer's adapter as a file records it.
struct AdapterSummary {
  std::string path;
  int64_t rank = 0;
  double alpha = 0;
};

// The adapters of `module` in path order. A layer's alpha is scale * rank, snapped to
// `stated_alpha` or to a whole number when it differs from one only by rounding.
std::vector<AdapterSummary> Adapters(torch::nn::Module& module, double stated_alpha);

// The value most adapters share (ties: the first in path order).
int64_t MostCommonRank(const std::vector<AdapterSummary>& adapters);
double MostCommonAlpha(const std::vector<AdapterSummary>& adapters);

}  // namespace easel::lora

#endif  // EASEL_TRAINER_LORA_LORA_LAYERS_H_
