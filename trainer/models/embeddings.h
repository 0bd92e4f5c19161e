#ifndef EASEL_TRAINER_MODELS_EMBEDDINGS_H_
#define EASEL_TRAINER_MODELS_EMBEDDINGS_H_

#include <cstdint>

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "trainer/models/lora_compatible_linear.h"

namespace easel::models {

// diffusers' get_timestep_embedding: [B] -> [B, dim] float32.
torch::Tensor TimestepEmbeddingSinusoidal(const torch::Tensor& timesteps, int64_t dim,
                                          bool flip_sin_to_cos, double downscale_freq_shift,
                                          double scale = 1.0, int64_t max_period = 10000);

// diffusers' Timesteps (no parameters).
class TimestepsImpl : public torch::nn::Module {
 public:
  TimestepsImpl(int64_t num_channels, bool flip_sin_to_cos, double downscale_freq_shift);
  torch::Tensor forward(const torch::Tensor& timesteps);

 private:
  int64_t num_channels_;
  bool flip_sin_to_cos_;
  double downscale_freq_shift_;
};
TORCH_MODULE(Timesteps);

// diffusers' TimestepEmbedding: linear_1, SiLU, linear_2.
class TimestepEmbeddingImpl : public torch::nn::Module {
 public:
  TimestepEmbeddingImpl(int64_t in_channels, int64_t time_embed_dim);
  torch::Tensor forward(const torch::Tensor& sample);

 private:
  LoraCompatibleLinear linear_1_{nullptr};
  LoraCompatibleLinear linear_2_{nullptr};
};
TORCH_MODULE(TimestepEmbedding);

}  // namespace easel::models

#endif  // EASEL_TRAINER_MODELS_EMBEDDINGS_H_
