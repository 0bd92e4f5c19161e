#ifndef EASEL_TRAINER_MODELS_VAE_BLOCKS_H_
#define EASEL_TRAINER_MODELS_VAE_BLOCKS_H_

#include <cstdint>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>
#include <torch/types.h>

#include "trainer/models/attention.h"
#include "trainer/models/autoencoder_kl.h"
#include "trainer/models/resnet.h"

namespace easel::models {

// diffusers' UNetMidBlock2D without time embedding: resnets.0, attentions.0, resnets.1.
class VaeMidBlockImpl : public torch::nn::Module {
 public:
  VaeMidBlockImpl(int64_t channels, int64_t groups);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  std::vector<ResnetBlock2D> resnets_;
  Attention attention_{nullptr};
};

// DownEncoderBlock2D (resnets, downsamplers.0 with padding 0) or UpDecoderBlock2D (resnets,
// upsamplers.0).
class VaeSampleBlockImpl : public torch::nn::Module {
 public:
  VaeSampleBlockImpl(int64_t in_channels, int64_t out_channels, int64_t num_layers,
                     int64_t groups, bool down, bool add_sample_change);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  std::vector<ResnetBlock2D> resnets_;
  Downsample2D downsampler_{nullptr};
  Upsample2D upsampler_{nullptr};
};

class VaeEncoderImpl : public torch::nn::Module {
 public:
  explicit VaeEncoderImpl(const AutoencoderKLConfig& config);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_in_{nullptr};
  std::vector<std::shared_ptr<VaeSampleBlockImpl>> down_blocks_;
  std::shared_ptr<VaeMidBlockImpl> mid_block_;
  torch::nn::GroupNorm conv_norm_out_{nullptr};
  torch::nn::Conv2d conv_out_{nullptr};
};

class VaeDecoderImpl : public torch::nn::Module {
 public:
  explicit VaeDecoderImpl(const AutoencoderKLConfig& config);
  torch::Tensor forward(const torch::Tensor& z);

 private:
  torch::nn::Conv2d conv_in_{nullptr};
  std::shared_ptr<VaeMidBlockImpl> mid_block_;
  std::vector<std::shared_ptr<VaeSampleBlockImpl>> up_blocks_;
  torch::nn::GroupNorm conv_norm_out_{nullptr};
  torch::nn::Conv2d conv_out_{nullptr};
};

}  // namespace easel::models

#endif  // EASEL_TRAINER_MODELS_VAE_BLOCKS_H_
