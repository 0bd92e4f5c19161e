#ifndef EASEL_TRAINER_MODELS_TRANSFORMER_2D_H_
#define EASEL_TRAINER_MODELS_TRANSFORMER_2D_H_

#include <cstdint>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "trainer/models/attention.h"
#include "trainer/models/lora_compatible_conv.h"
#include "trainer/models/lora_compatible_linear.h"

namespace easel::models {

struct Transformer2DOptions {
  int64_t num_attention_heads;
  int64_t attention_head_dim;
  int64_t in_channels;
  int64_t num_layers = 1;
  int64_t cross_attention_dim;
  int64_t norm_num_groups = 32;
  bool use_linear_projection = false;
  bool only_cross_attention = false;
};

// diffusers' Transformer2DModel (continuous input): norm, proj_in, transformer_blocks, proj_out.
// proj_in / proj_out are 1x1 convolutions (SD 1.x) or linears (use_linear_projection); either
// can carry a LoRA adapter.
class Transformer2DModelImpl : public torch::nn::Module {
 public:
  explicit Transformer2DModelImpl(const Transformer2DOptions& options);
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& context);

 private:
  Transformer2DOptions options_;
  int64_t inner_dim_;
  torch::nn::GroupNorm norm_{nullptr};
  LoraCompatibleConv2d proj_in_conv_{nullptr};
  LoraCompatibleLinear proj_in_linear_{nullptr};
  std::vector<BasicTransformerBlock> blocks_;
  LoraCompatibleConv2d proj_out_conv_{nullptr};
  LoraCompatibleLinear proj_out_linear_{nullptr};
};
TORCH_MODULE(Transformer2DModel);

}  // namespace easel::models

#endif  // EASEL_TRAINER_MODELS_TRANSFORMER_2D_H_
