#include "trainer/models/embeddings.h"

#include <cmath>

#include <torch/torch.h>

namespace easel::models {

torch::Tensor TimestepEmbeddingSinusoidal(const torch::Tensor& timesteps, int64_t dim,
                                          bool flip_sin_to_cos, double downscale_freq_shift,
                                          double scale, int64_t max_period) {
  TORCH_CHECK(timesteps.dim() == 1, "timesteps must be one-dimensional, got ", timesteps.sizes());
  const int64_t half_dim = dim / 2;
  auto options = torch::TensorOptions().dtype(torch::kFloat32).device(timesteps.device());
  torch::Tensor exponent = -std::log(static_cast<double>(max_period)) *
                           torch::arange(0, half_dim, options) /
                           (static_cast<double>(half_dim) - downscale_freq_shift);
  torch::Tensor emb = timesteps.to(torch::kFloat32).unsqueeze(1) * torch::exp(exponent).unsqueeze(0);
  emb = scale * emb;
  emb = torch::cat({torch::sin(emb), torch::cos(emb)}, -1);
  if (flip_sin_to_cos) {
    emb = torch::cat({emb.slice(1, half_dim), emb.slice(1, 0, half_dim)}, -1);
  }
  if (dim % 2 == 1) emb = torch::nn::functional::pad(emb, torch::nn::functional::PadFuncOptions({0, 1}));
  return emb;
}

TimestepsImpl::TimestepsImpl(int64_t num_channels, bool flip_sin_to_cos,
                             double downscale_freq_shift)
    : num_channels_(num_channels),
      flip_sin_to_cos_(flip_sin_to_cos),
      downscale_freq_shift_(downscale_freq_shift) {}

torch::Tensor TimestepsImpl::forward(const torch::Tensor& timesteps) {
  return TimestepEmbeddingSinusoidal(timesteps, num_channels_, flip_sin_to_cos_,
                                     downscale_freq_shift_);
}

TimestepEmbeddingImpl::TimestepEmbeddingImpl(int64_t in_channels, int64_t time_embed_dim) {
  linear_1_ = register_module("linear_1", LoraCompatibleLinear(in_channels, time_embed_dim));
  linear_2_ = register_module("linear_2", LoraCompatibleLinear(time_embed_dim, time_embed_dim));
}

torch::Tensor TimestepEmbeddingImpl::forward(const torch::Tensor& sample) {
  return linear_2_(torch::silu(linear_1_(sample)));
}

}  // namespace easel::models
