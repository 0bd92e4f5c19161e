#include "trainer/models/vae_blocks.h"

#include <torch/torch.h>

namespace easel::models {
namespace {

constexpr double kVaeEps = 1e-6;

ResnetBlock2D VaeResnet(int64_t in, int64_t out, int64_t groups) {
  return ResnetBlock2D(ResnetBlock2DOptions{
      .in_channels = in, .out_channels = out, .temb_channels = 0, .groups = groups, .eps = kVaeEps});
}

torch::nn::GroupNorm VaeNorm(int64_t groups, int64_t channels) {
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, channels).eps(kVaeEps));
}

torch::nn::Conv2d Conv3x3(int64_t in, int64_t out) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1));
}

}  // namespace

VaeMidBlockImpl::VaeMidBlockImpl(int64_t channels, int64_t groups) {
  torch::nn::ModuleList resnets;
  for (int i = 0; i < 2; ++i) {
    resnets_.push_back(VaeResnet(channels, channels, groups));
    resnets->push_back(resnets_.back());
  }
  attention_ = Attention(AttentionOptions{.query_dim = channels,
                                          .heads = 1,
                                          .dim_head = channels,
                                          .bias = true,
                                          .norm_num_groups = groups,
                                          .eps = kVaeEps,
                                          .residual_connection = true});
  register_module("attentions", torch::nn::ModuleList(attention_));
  register_module("resnets", resnets);
}

torch::Tensor VaeMidBlockImpl::forward(const torch::Tensor& x) {
  return resnets_[1](attention_(resnets_[0](x)));
}

VaeSampleBlockImpl::VaeSampleBlockImpl(int64_t in_channels, int64_t out_channels,
                                       int64_t num_layers, int64_t groups, bool down,
                                       bool add_sample_change) {
  torch::nn::ModuleList resnets;
  for (int64_t i = 0; i < num_layers; ++i) {
    resnets_.push_back(VaeResnet(i == 0 ? in_channels : out_channels, out_channels, groups));
    resnets->push_back(resnets_.back());
  }
  register_module("resnets", resnets);
  if (add_sample_change && down) {
    downsampler_ = Downsample2D(out_channels, out_channels, /*padding=*/0);
    register_module("downsamplers", torch::nn::ModuleList(downsampler_));
  } else if (add_sample_change) {
    upsampler_ = Upsample2D(out_channels, out_channels);
    register_module("upsamplers", torch::nn::ModuleList(upsampler_));
  }
}

torch::Tensor VaeSampleBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = x;
  for (auto& resnet : resnets_) h = resnet(h);
  if (!downsampler_.is_empty()) h = downsampler_(h);
  if (!upsampler_.is_empty()) h = upsampler_(h);
  return h;
}

VaeEncoderImpl::VaeEncoderImpl(const AutoencoderKLConfig& config) {
  const auto& channels = config.block_out_channels;
  const int64_t n = static_cast<int64_t>(channels.size());
  conv_in_ = register_module("conv_in", Conv3x3(config.in_channels, channels[0]));
  torch::nn::ModuleList blocks;
  int64_t output_channel = channels[0];
  for (int64_t i = 0; i < n; ++i) {
    const int64_t input_channel = output_channel;
    output_channel = channels[i];
    down_blocks_.push_back(std::make_shared<VaeSampleBlockImpl>(
        input_channel, output_channel, config.layers_per_block, config.norm_num_groups,
        /*down=*/true, /*add_sample_change=*/i != n - 1));
    blocks->push_back(down_blocks_.back());
  }
  register_module("down_blocks", blocks);
  mid_block_ = register_module(
      "mid_block", std::make_shared<VaeMidBlockImpl>(channels[n - 1], config.norm_num_groups));
  conv_norm_out_ = register_module("conv_norm_out", VaeNorm(config.norm_num_groups, channels[n - 1]));
  conv_out_ = register_module("conv_out", Conv3x3(channels[n - 1], 2 * config.latent_channels));
}

torch::Tensor VaeEncoderImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = conv_in_(x);
  for (auto& block : down_blocks_) h = block->forward(h);
  h = mid_block_->forward(h);
  return conv_out_(torch::silu(conv_norm_out_(h)));
}

VaeDecoderImpl::VaeDecoderImpl(const AutoencoderKLConfig& config) {
  const auto& channels = config.block_out_channels;
  const int64_t n = static_cast<int64_t>(channels.size());
  conv_in_ = register_module("conv_in", Conv3x3(config.latent_channels, channels[n - 1]));
  mid_block_ = register_module(
      "mid_block", std::make_shared<VaeMidBlockImpl>(channels[n - 1], config.norm_num_groups));
  torch::nn::ModuleList blocks;
  int64_t output_channel = channels[n - 1];
  for (int64_t i = 0; i < n; ++i) {
    const int64_t prev_output_channel = output_channel;
    output_channel = channels[n - 1 - i];
    up_blocks_.push_back(std::make_shared<VaeSampleBlockImpl>(
        prev_output_channel, output_channel, config.layers_per_block + 1, config.norm_num_groups,
        /*down=*/false, /*add_sample_change=*/i != n - 1));
    blocks->push_back(up_blocks_.back());
  }
  register_module("up_blocks", blocks);
  conv_norm_out_ = register_module("conv_norm_out", VaeNorm(config.norm_num_groups, channels[0]));
  conv_out_ = register_module("conv_out", Conv3x3(channels[0], config.out_channels));
}

torch::Tensor VaeDecoderImpl::forward(const torch::Tensor& z) {
  torch::Tensor h = conv_in_(z);
  h = mid_block_->forward(h);
  for (auto& block : up_blocks_) h = block->forward(h);
  return conv_out_(torch::silu(conv_norm_out_(h)));
}

}  // namespace easel::models
