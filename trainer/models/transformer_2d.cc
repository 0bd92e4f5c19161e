#include "trainer/models/transformer_2d.h"

#include <torch/torch.h>

namespace easel::models {

Transformer2DModelImpl::Transformer2DModelImpl(const Transformer2DOptions& options)
    : options_(options), inner_dim_(options.num_attention_heads * options.attention_head_dim) {
  norm_ = register_module(
      "norm", torch::nn::GroupNorm(
                  torch::nn::GroupNormOptions(options.norm_num_groups, options.in_channels).eps(1e-6)));
  if (options.use_linear_projection) {
    proj_in_linear_ = register_module("proj_in", LoraCompatibleLinear(options.in_channels, inner_dim_));
  } else {
    proj_in_conv_ =
        register_module("proj_in", LoraCompatibleConv2d(options.in_channels, inner_dim_, 1));
  }
  torch::nn::ModuleList blocks;
  for (int64_t i = 0; i < options.num_layers; ++i) {
    blocks_.push_back(BasicTransformerBlock(BasicTransformerBlockOptions{
        .dim = inner_dim_,
        .num_attention_heads = options.num_attention_heads,
        .attention_head_dim = options.attention_head_dim,
        .cross_attention_dim = options.cross_attention_dim,
        .only_cross_attention = options.only_cross_attention}));
    blocks->push_back(blocks_.back());
  }
  register_module("transformer_blocks", blocks);
  if (options.use_linear_projection) {
    proj_out_linear_ =
        register_module("proj_out", LoraCompatibleLinear(inner_dim_, options.in_channels));
  } else {
    proj_out_conv_ =
        register_module("proj_out", LoraCompatibleConv2d(inner_dim_, options.in_channels, 1));
  }
}

torch::Tensor Transformer2DModelImpl::forward(const torch::Tensor& hidden,
                                              const torch::Tensor& context) {
  const int64_t batch = hidden.size(0), height = hidden.size(2), width = hidden.size(3);
  torch::Tensor x = norm_(hidden);
  if (options_.use_linear_projection) {
    x = x.permute({0, 2, 3, 1}).reshape({batch, height * width, -1});
    x = proj_in_linear_(x);
  } else {
    x = proj_in_conv_(x);
    x = x.permute({0, 2, 3, 1}).reshape({batch, height * width, inner_dim_});
  }
  for (auto& block : blocks_) x = block(x, context);
  if (options_.use_linear_projection) {
    x = proj_out_linear_(x);
    x = x.reshape({batch, height, width, -1}).permute({0, 3, 1, 2}).contiguous();
  } else {
    x = x.reshape({batch, height, width, inner_dim_}).permute({0, 3, 1, 2}).contiguous();
    x = proj_out_conv_(x);
  }
  return x + hidden;
}

}  // namespace easel::models
