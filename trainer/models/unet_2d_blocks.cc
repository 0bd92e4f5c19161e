#include "trainer/models/unet_2d_blocks.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"

namespace easel::models {
namespace {

ResnetBlock2D MakeResnet(const UNetBlockOptions& options, int64_t in, int64_t out) {
  return ResnetBlock2D(ResnetBlock2DOptions{.in_channels = in,
                                            .out_channels = out,
                                            .temb_channels = options.temb_channels,
                                            .groups = options.groups,
                                            .eps = options.eps,
                                            .output_scale_factor = options.output_scale_factor});
}

Transformer2DModel MakeTransformer(const UNetBlockOptions& options, int64_t channels) {
  return Transformer2DModel(Transformer2DOptions{
      .num_attention_heads = options.num_attention_heads,
      .attention_head_dim = channels / options.num_attention_heads,
      .in_channels = channels,
      .num_layers = options.transformer_layers,
      .cross_attention_dim = options.cross_attention_dim,
      .norm_num_groups = options.groups,
      .use_linear_projection = options.use_linear_projection,
      .only_cross_attention = options.only_cross_attention});
}

}  // namespace

DownBlock2DImpl::DownBlock2DImpl(const UNetBlockOptions& options, bool with_attention) {
  torch::nn::ModuleList resnets, attentions;
  for (int64_t i = 0; i < options.num_layers; ++i) {
    const int64_t in = i == 0 ? options.in_channels : options.out_channels;
    resnets_.push_back(MakeResnet(options, in, options.out_channels));
    resnets->push_back(resnets_.back());
    if (with_attention) {
      attentions_.push_back(MakeTransformer(options, options.out_channels));
      attentions->push_back(attentions_.back());
    }
  }
  if (with_attention) register_module("attentions", attentions);
  register_module("resnets", resnets);
  if (options.add_sample_change) {
    downsampler_ = Downsample2D(options.out_channels, options.out_channels,
                                options.downsample_padding);
    register_module("downsamplers", torch::nn::ModuleList(downsampler_));
  }
}

std::pair<torch::Tensor, std::vector<torch::Tensor>> DownBlock2DImpl::Forward(
    const torch::Tensor& hidden, const torch::Tensor& temb, const torch::Tensor& context) {
  std::vector<torch::Tensor> states;
  torch::Tensor h = hidden;
  for (size_t i = 0; i < resnets_.size(); ++i) {
    h = resnets_[i](h, temb);
    if (!attentions_.empty()) h = attentions_[i](h, context);
    states.push_back(h);
  }
  if (!downsampler_.is_empty()) {
    h = downsampler_(h);
    states.push_back(h);
  }
  return {h, std::move(states)};
}

UpBlock2DImpl::UpBlock2DImpl(const UNetBlockOptions& options, bool with_attention) {
  torch::nn::ModuleList resnets, attentions;
  for (int64_t i = 0; i < options.num_layers; ++i) {
    const int64_t skip = i == options.num_layers - 1 ? options.in_channels : options.out_channels;
    const int64_t in = i == 0 ? options.prev_output_channel : options.out_channels;
    resnets_.push_back(MakeResnet(options, in + skip, options.out_channels));
    resnets->push_back(resnets_.back());
    if (with_attention) {
      attentions_.push_back(MakeTransformer(options, options.out_channels));
      attentions->push_back(attentions_.back());
    }
  }
  if (with_attention) register_module("attentions", attentions);
  register_module("resnets", resnets);
  if (options.add_sample_change) {
    upsampler_ = Upsample2D(options.out_channels, options.out_channels);
    register_module("upsamplers", torch::nn::ModuleList(upsampler_));
  }
}

torch::Tensor UpBlock2DImpl::Forward(const torch::Tensor& hidden, std::vector<torch::Tensor> skips,
                                     const torch::Tensor& temb, const torch::Tensor& context,
                                     const std::optional<std::vector<int64_t>>& upsample_size) {
  TORCH_CHECK(skips.size() == resnets_.size(), "up block expects ", resnets_.size(),
              " skip states, got ", skips.size());
  torch::Tensor h = hidden;
  for (size_t i = 0; i < resnets_.size(); ++i) {
    h = torch::cat({h, skips.back()}, 1);
    skips.pop_back();
    h = resnets_[i](h, temb);
    if (!attentions_.empty()) h = attentions_[i](h, context);
  }
  if (!upsampler_.is_empty()) h = upsampler_(h, upsample_size);
  return h;
}

UNetMidBlock2DCrossAttnImpl::UNetMidBlock2DCrossAttnImpl(const UNetBlockOptions& options) {
  torch::nn::ModuleList resnets, attentions;
  const int64_t channels = options.in_channels;
  resnets_.push_back(MakeResnet(options, channels, channels));
  resnets->push_back(resnets_.back());
  for (int64_t i = 0; i < options.num_layers; ++i) {
    attentions_.push_back(MakeTransformer(options, channels));
    attentions->push_back(attentions_.back());
    resnets_.push_back(MakeResnet(options, channels, channels));
    resnets->push_back(resnets_.back());
  }
  register_module("attentions", attentions);
  register_module("resnets", resnets);
}

torch::Tensor UNetMidBlock2DCrossAttnImpl::forward(const torch::Tensor& hidden,
                                                   const torch::Tensor& temb,
                                                   const torch::Tensor& context) {
  torch::Tensor h = resnets_[0](hidden, temb);
  for (size_t i = 0; i < attentions_.size(); ++i) {
    h = attentions_[i](h, context);
    h = resnets_[i + 1](h, temb);
  }
  return h;
}

absl::StatusOr<std::shared_ptr<DownBlockBase>> MakeDownBlock(const std::string& type,
                                                             const UNetBlockOptions& options) {
  if (type == "CrossAttnDownBlock2D") return std::make_shared<DownBlock2DImpl>(options, true);
  if (type == "DownBlock2D") return std::make_shared<DownBlock2DImpl>(options, false);
  return absl::InvalidArgumentError(absl::StrCat(
      "unsupported down block type \"", type,
      "\" (supported: CrossAttnDownBlock2D, DownBlock2D)"));
}

absl::StatusOr<std::shared_ptr<UpBlockBase>> MakeUpBlock(const std::string& type,
                                                         const UNetBlockOptions& options) {
  if (type == "CrossAttnUpBlock2D") return std::make_shared<UpBlock2DImpl>(options, true);
  if (type == "UpBlock2D") return std::make_shared<UpBlock2DImpl>(options, false);
  return absl::InvalidArgumentError(absl::StrCat(
      "unsupported up block type \"", type, "\" (supported: CrossAttnUpBlock2D, UpBlock2D)"));
}

}  // namespace easel::models
