#ifndef EASEL_TRAINER_MODELS_UNET_2D_BLOCKS_H_
#define EASEL_TRAINER_MODELS_UNET_2D_BLOCKS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/nn/module.h>
#include <torch/types.h>

#include "absl/status/statusor.h"
#include "trainer/models/resnet.h"
#include "trainer/models/transformer_2d.h"

namespace easel::models {

// Everything a diffusers get_down_block / get_up_block call needs.
struct UNetBlockOptions {
  int64_t num_layers;
  int64_t in_channels;
  int64_t out_channels;
  int64_t prev_output_channel = 0;  // up blocks only
  int64_t temb_channels;
  bool add_sample_change;           // add_downsample / add_upsample
  double eps;
  int64_t groups;
  int64_t cross_attention_dim;
  int64_t num_attention_heads;
  int64_t transformer_layers = 1;   // BasicTransformerBlocks per Transformer2DModel
  int64_t downsample_padding = 1;
  bool use_linear_projection = false;
  bool only_cross_attention = false;
  double output_scale_factor = 1.0;
};

class DownBlockBase : public torch::nn::Module {
 public:
  // Returns the block's output and the skip states it contributes (one per resnet, plus the
  // downsampled output).
  virtual std::pair<torch::Tensor, std::vector<torch::Tensor>> Forward(
      const torch::Tensor& hidden, const torch::Tensor& temb, const torch::Tensor& context) = 0;
};

class UpBlockBase : public torch::nn::Module {
 public:
  virtual int64_t num_resnets() const = 0;
  // `skips` holds the num_resnets() skip states, consumed from the back.
  virtual torch::Tensor Forward(const torch::Tensor& hidden, std::vector<torch::Tensor> skips,
                                const torch::Tensor& temb, const torch::Tensor& context,
                                const std::optional<std::vector<int64_t>>& upsample_size) = 0;
};

// CrossAttnDownBlock2D (with_attention) or DownBlock2D.
class DownBlock2DImpl : public DownBlockBase {
 public:
  DownBlock2DImpl(const UNetBlockOptions& options, bool with_attention);
  std::pair<torch::Tensor, std::vector<torch::Tensor>> Forward(
      const torch::Tensor& hidden, const torch::Tensor& temb,
      const torch::Tensor& context) override;

 private:
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Transformer2DModel> attentions_;
  Downsample2D downsampler_{nullptr};
};

// CrossAttnUpBlock2D (with_attention) or UpBlock2D.
class UpBlock2DImpl : public UpBlockBase {
 public:
  UpBlock2DImpl(const UNetBlockOptions& options, bool with_attention);
  int64_t num_resnets() const override { return static_cast<int64_t>(resnets_.size()); }
  torch::Tensor Forward(const torch::Tensor& hidden, std::vector<torch::Tensor> skips,
                        const torch::Tensor& temb, const torch::Tensor& context,
                        const std::optional<std::vector<int64_t>>& upsample_size) override;

 private:
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Transformer2DModel> attentions_;
  Upsample2D upsampler_{nullptr};
};

// UNetMidBlock2DCrossAttn: resnets.0, then (attentions.i, resnets.i+1) per layer.
class UNetMidBlock2DCrossAttnImpl : public torch::nn::Module {
 public:
  explicit UNetMidBlock2DCrossAttnImpl(const UNetBlockOptions& options);
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& temb,
                        const torch::Tensor& context);

 private:
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Transformer2DModel> attentions_;
};

// diffusers' get_down_block / get_up_block; unknown types -> InvalidArgument.
absl::StatusOr<std::shared_ptr<DownBlockBase>> MakeDownBlock(const std::string& type,
                                                             const UNetBlockOptions& options);
absl::StatusOr<std::shared_ptr<UpBlockBase>> MakeUpBlock(const std::string& type,
                                                         const UNetBlockOptions& options);

}  // namespace easel::models

#endif  // EASEL_TRAINER_MODELS_UNET_2D_BLOCKS_H_
