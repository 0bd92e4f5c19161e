#ifndef EASEL_TRAINER_MODELS_RESNET_H_
#define EASEL_TRAINER_MODELS_RESNET_H_

#include <cstdint>
#include <optional>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "trainer/models/lora_compatible_conv.h"
#include "trainer/models/lora_compatible_linear.h"

namespace easel::models {

struct ResnetBlock2DOptions {
  int64_t in_channels;
  int64_t out_channels;
  int64_t temb_channels = 0;  // 0: no time_emb_proj (the VAE)
  int64_t groups = 32;
  double eps = 1e-6;
  double dropout = 0.0;
  double output_scale_factor = 1.0;
};

// diffusers' ResnetBlock2D: norm1 conv1 [time_emb_proj] norm2 dropout conv2 [conv_shortcut].
// The convolutions (and the samplers' "conv" below) can carry LoRA adapters (LoCon).
class ResnetBlock2DImpl : public torch::nn::Module {
 public:
  explicit ResnetBlock2DImpl(const ResnetBlock2DOptions& options);
  torch::Tensor forward(const torch::Tensor& input, const torch::Tensor& temb = {});

 private:
  ResnetBlock2DOptions options_;
  torch::nn::GroupNorm norm1_{nullptr};
  LoraCompatibleConv2d conv1_{nullptr};
  LoraCompatibleLinear time_emb_proj_{nullptr};
  torch::nn::GroupNorm norm2_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  LoraCompatibleConv2d conv2_{nullptr};
  LoraCompatibleConv2d conv_shortcut_{nullptr};
};
TORCH_MODULE(ResnetBlock2D);

// diffusers' Downsample2D with a strided 3x3 "conv"; padding 0 pads right/bottom by one first.
class Downsample2DImpl : public torch::nn::Module {
 public:
  Downsample2DImpl(int64_t channels, int64_t out_channels, int64_t padding);
  torch::Tensor forward(const torch::Tensor& input);

 private:
  int64_t padding_;
  LoraCompatibleConv2d conv_{nullptr};
};
TORCH_MODULE(Downsample2D);

// diffusers' Upsample2D: nearest x2 (or to output_size), then 3x3 "conv".
class Upsample2DImpl : public torch::nn::Module {
 public:
  Upsample2DImpl(int64_t channels, int64_t out_channels);
  torch::Tensor forward(const torch::Tensor& input,
                        const std::optional<std::vector<int64_t>>& output_size = std::nullopt);

 private:
  LoraCompatibleConv2d conv_{nullptr};
};
TORCH_MODULE(Upsample2D);

}  // namespace easel::models

#endif  // EASEL_TRAINER_MODELS_RESNET_H_
