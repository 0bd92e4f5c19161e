#ifndef EASEL_TRAINER_MODELS_ATTENTION_H_
#define EASEL_TRAINER_MODELS_ATTENTION_H_

#include <cstdint>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "trainer/models/lora_compatible_linear.h"

namespace easel::models {

struct AttentionOptions {
  int64_t query_dim;
  int64_t cross_attention_dim = 0;  // 0: self-attention
  int64_t heads = 8;
  int64_t dim_head = 64;
  bool bias = false;                // on to_q/to_k/to_v
  int64_t norm_num_groups = 0;      // >0: a "group_norm" before attention (the VAE)
  double eps = 1e-5;
  bool residual_connection = false;
};

// diffusers' Attention: to_q, to_k, to_v, to_out.0 (+ to_out.1 dropout), [group_norm].
class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const AttentionOptions& options);
  // hidden [B,N,C] or [B,C,H,W] (spatial in and out); context [B,L,cross] or undefined.
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& context = {});

 private:
  AttentionOptions options_;
  torch::nn::GroupNorm group_norm_{nullptr};
  LoraCompatibleLinear to_q_{nullptr};
  LoraCompatibleLinear to_k_{nullptr};
  LoraCompatibleLinear to_v_{nullptr};
  torch::nn::ModuleList to_out_{nullptr};
  LoraCompatibleLinear to_out_linear_{nullptr};
};
TORCH_MODULE(Attention);

// GEGLU feed-forward: net.0.proj (dim -> 2*inner), net.1 dropout, net.2 (inner -> dim).
class FeedForwardImpl : public torch::nn::Module {
 public:
  FeedForwardImpl(int64_t dim, int64_t mult = 4);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::ModuleList net_{nullptr};
  LoraCompatibleLinear proj_{nullptr};
  LoraCompatibleLinear out_{nullptr};
};
TORCH_MODULE(FeedForward);

struct BasicTransformerBlockOptions {
  int64_t dim;
  int64_t num_attention_heads;
  int64_t attention_head_dim;
  int64_t cross_attention_dim;
  bool only_cross_attention = false;
};

// diffusers' BasicTransformerBlock: norm1 attn1 norm2 attn2 norm3 ff.
class BasicTransformerBlockImpl : public torch::nn::Module {
 public:
  explicit BasicTransformerBlockImpl(const BasicTransformerBlockOptions& options);
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& context);

 private:
  bool only_cross_attention_;
  torch::nn::LayerNorm norm1_{nullptr};
  Attention attn1_{nullptr};
  torch::nn::LayerNorm norm2_{nullptr};
  Attention attn2_{nullptr};
  torch::nn::LayerNorm norm3_{nullptr};
  FeedForward ff_{nullptr};
};
TORCH_MODULE(BasicTransformerBlock);

}  // namespace easel::models

#endif  // EASEL_TRAINER_MODELS_ATTENTION_H_
