#ifndef EASEL_TRAINER_MODELS_LORA_COMPATIBLE_LINEAR_H_
#define EASEL_TRAINER_MODELS_LORA_COMPATIBLE_LINEAR_H_

#include <cstdint>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "trainer/models/lora_compatible_layer.h"

namespace easel::models {

// A linear layer (parameters "weight", "bias") that can carry a LoRA adapter as children
// "lora_A" (in->rank) and "lora_B" (rank->out), named like peft's.
class LoraCompatibleLinearImpl : public torch::nn::Module, public LoraCompatibleLayer {
 public:
  LoraCompatibleLinearImpl(int64_t in_features, int64_t out_features, bool bias = true);

  // x W^T + b (+ scale * lora_B(lora_A(x)) when enabled).
  torch::Tensor forward(const torch::Tensor& x);

  // lora_A: kaiming-uniform (a = sqrt(5)); lora_B: zeros; float32 on weight's device (the
  // adapter computes in its own dtype and casts back). Calling again replaces the adapter.
  void EnableLora(int64_t rank, double alpha) override;
  bool has_lora() const override { return !lora_A_.is_empty(); }
  torch::nn::Linear lora_A() const { return lora_A_; }
  torch::nn::Linear lora_B() const { return lora_B_; }
  double lora_scale() const override { return lora_scale_; }
  void set_lora_scale(double scale) override { lora_scale_ = scale; }
  int64_t lora_rank() const override { return lora_rank_; }
  torch::Tensor lora_A_weight() const override {
    return has_lora() ? lora_A_->weight : torch::Tensor();
  }
  torch::Tensor lora_B_weight() const override {
    return has_lora() ? lora_B_->weight : torch::Tensor();
  }
  std::vector<int64_t> LoraAShape(int64_t rank) const override { return {rank, in_features_}; }
  std::vector<int64_t> LoraBShape(int64_t rank) const override { return {out_features_, rank}; }
  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }

  torch::Tensor weight, bias;  // registered as "weight" and "bias" (bias undefined if none)

 private:
  int64_t in_features_;
  int64_t out_features_;
  torch::nn::Linear lora_A_{nullptr};
  torch::nn::Linear lora_B_{nullptr};
  double lora_scale_ = 1.0;
  int64_t lora_rank_ = 0;
};
TORCH_MODULE(LoraCompatibleLinear);

}  // namespace easel::models

#endif  // EASEL_TRAINER_MODELS_LORA_COMPATIBLE_LINEAR_H_
