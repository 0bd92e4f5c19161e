#include "trainer/models/resnet.h"

#include <torch/torch.h>

namespace easel::models {

namespace F = torch::nn::functional;

ResnetBlock2DImpl::ResnetBlock2DImpl(const ResnetBlock2DOptions& options) : options_(options) {
  const int64_t in = options.in_channels;
  const int64_t out = options.out_channels;
  norm1_ = register_module(
      "norm1", torch::nn::GroupNorm(torch::nn::GroupNormOptions(options.groups, in).eps(options.eps)));
  conv1_ = register_module("conv1", LoraCompatibleConv2d(in, out, 3, /*stride=*/1, /*padding=*/1));
  if (options.temb_channels > 0) {
    time_emb_proj_ =
        register_module("time_emb_proj", LoraCompatibleLinear(options.temb_channels, out));
  }
  norm2_ = register_module(
      "norm2", torch::nn::GroupNorm(torch::nn::GroupNormOptions(options.groups, out).eps(options.eps)));
  dropout_ = register_module("dropout", torch::nn::Dropout(options.dropout));
  conv2_ = register_module("conv2", LoraCompatibleConv2d(out, out, 3, /*stride=*/1, /*padding=*/1));
  if (in != out) {
    conv_shortcut_ = register_module("conv_shortcut", LoraCompatibleConv2d(in, out, 1));
  }
}

torch::Tensor ResnetBlock2DImpl::forward(const torch::Tensor& input, const torch::Tensor& temb) {
  torch::Tensor h = conv1_(torch::silu(norm1_(input)));
  if (!time_emb_proj_.is_empty() && temb.defined()) {
    h = h + time_emb_proj_(torch::silu(temb)).unsqueeze(-1).unsqueeze(-1);
  }
  h = conv2_(dropout_(torch::silu(norm2_(h))));
  torch::Tensor shortcut = conv_shortcut_.is_empty() ? input : conv_shortcut_(input);
  torch::Tensor out = shortcut + h;
  if (options_.output_scale_factor != 1.0) out = out / options_.output_scale_factor;
  return out;
}

Downsample2DImpl::Downsample2DImpl(int64_t channels, int64_t out_channels, int64_t padding)
    : padding_(padding) {
  conv_ = register_module(
      "conv", LoraCompatibleConv2d(channels, out_channels, 3, /*stride=*/2, padding));
}

torch::Tensor Downsample2DImpl::forward(const torch::Tensor& input) {
  if (padding_ == 0) {
    return conv_(F::pad(input, F::PadFuncOptions({0, 1, 0, 1}).mode(torch::kConstant).value(0)));
  }
  return conv_(input);
}

Upsample2DImpl::Upsample2DImpl(int64_t channels, int64_t out_channels) {
  conv_ = register_module(
      "conv", LoraCompatibleConv2d(channels, out_channels, 3, /*stride=*/1, /*padding=*/1));
}

torch::Tensor Upsample2DImpl::forward(const torch::Tensor& input,
                                      const std::optional<std::vector<int64_t>>& output_size) {
  auto options = F::InterpolateFuncOptions().mode(torch::kNearest);
  if (output_size) {
    options.size(*output_size);
  } else {
    options.scale_factor(std::vector<double>{2.0, 2.0});
  }
  torch::Tensor x = input;
  const bool upcast = x.scalar_type() == torch::kBFloat16;
  if (upcast) x = x.to(torch::kFloat32);
  x = F::interpolate(x, options);
  if (upcast) x = x.to(input.scalar_type());
  return conv_(x);
}

}  // namespace easel::models
