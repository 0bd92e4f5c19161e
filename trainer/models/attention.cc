#include "trainer/models/attention.h"

#include <cmath>

#include <torch/torch.h>

#include "trainer/models/torch_compat.h"

namespace easel::models {

AttentionImpl::AttentionImpl(const AttentionOptions& options) : options_(options) {
  const int64_t inner = options.heads * options.dim_head;
  const int64_t kv_dim =
      options.cross_attention_dim > 0 ? options.cross_attention_dim : options.query_dim;
  if (options.norm_num_groups > 0) {
    group_norm_ = register_module(
        "group_norm", torch::nn::GroupNorm(torch::nn::GroupNormOptions(options.norm_num_groups,
                                                                       options.query_dim)
                                               .eps(options.eps)));
  }
  to_q_ = register_module("to_q", LoraCompatibleLinear(options.query_dim, inner, options.bias));
  to_k_ = register_module("to_k", LoraCompatibleLinear(kv_dim, inner, options.bias));
  to_v_ = register_module("to_v", LoraCompatibleLinear(kv_dim, inner, options.bias));
  to_out_linear_ = LoraCompatibleLinear(inner, options.query_dim, true);
  to_out_ = register_module("to_out", torch::nn::ModuleList(to_out_linear_, torch::nn::Dropout(0.0)));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& hidden, const torch::Tensor& context) {
  torch::Tensor residual = hidden;
  torch::Tensor x = hidden;
  const bool spatial = x.dim() == 4;
  int64_t batch = x.size(0), channels = 0, height = 0, width = 0;
  if (spatial) {
    channels = x.size(1);
    height = x.size(2);
    width = x.size(3);
  }
  if (!group_norm_.is_empty()) x = group_norm_(x);
  if (spatial) x = x.view({batch, channels, height * width}).transpose(1, 2);
  torch::Tensor kv_input = context.defined() ? context : x;
  const int64_t heads = options_.heads;
  auto split_heads = [&](const torch::Tensor& t) {
    return t.view({t.size(0), t.size(1), heads, -1}).transpose(1, 2);
  };
  torch::Tensor q = split_heads(to_q_(x));
  torch::Tensor k = split_heads(to_k_(kv_input));
  torch::Tensor v = split_heads(to_v_(kv_input));
  const double scale = 1.0 / std::sqrt(static_cast<double>(options_.dim_head));
  torch::Tensor out = compat::ScaledDotProductAttention(q, k, v, scale);
  out = out.transpose(1, 2).reshape({batch, -1, heads * options_.dim_head});
  out = to_out_linear_(out);
  out = to_out_[1]->as<torch::nn::Dropout>()->forward(out);
  if (spatial) out = out.transpose(1, 2).reshape({batch, channels, height, width});
  if (options_.residual_connection) out = out + residual;
  return out;
}

FeedForwardImpl::FeedForwardImpl(int64_t dim, int64_t mult) {
  const int64_t inner = dim * mult;
  auto geglu = std::make_shared<torch::nn::Module>("GEGLU");
  proj_ = geglu->register_module("proj", LoraCompatibleLinear(dim, inner * 2));
  out_ = LoraCompatibleLinear(inner, dim);
  net_ = register_module("net", torch::nn::ModuleList(geglu, torch::nn::Dropout(0.0), out_));
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x) {
  auto parts = proj_(x).chunk(2, -1);
  torch::Tensor h = parts[0] * torch::gelu(parts[1]);
  h = net_[1]->as<torch::nn::Dropout>()->forward(h);
  return out_(h);
}

BasicTransformerBlockImpl::BasicTransformerBlockImpl(const BasicTransformerBlockOptions& options)
    : only_cross_attention_(options.only_cross_attention) {
  const int64_t dim = options.dim;
  auto layer_norm = [&] {
    return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-5));
  };
  norm1_ = register_module("norm1", layer_norm());
  attn1_ = register_module(
      "attn1", Attention(AttentionOptions{
                   .query_dim = dim,
                   .cross_attention_dim =
                       options.only_cross_attention ? options.cross_attention_dim : 0,
                   .heads = options.num_attention_heads,
                   .dim_head = options.attention_head_dim}));
  norm2_ = register_module("norm2", layer_norm());
  attn2_ = register_module(
      "attn2", Attention(AttentionOptions{.query_dim = dim,
                                          .cross_attention_dim = options.cross_attention_dim,
                                          .heads = options.num_attention_heads,
                                          .dim_head = options.attention_head_dim}));
  norm3_ = register_module("norm3", layer_norm());
  ff_ = register_module("ff", FeedForward(dim));
}

torch::Tensor BasicTransformerBlockImpl::forward(const torch::Tensor& hidden,
                                                 const torch::Tensor& context) {
  torch::Tensor x = hidden;
  x = attn1_(norm1_(x), only_cross_attention_ ? context : torch::Tensor()) + x;
  x = attn2_(norm2_(x), context) + x;
  x = ff_(norm3_(x)) + x;
  return x;
}

}  // namespace easel::models
