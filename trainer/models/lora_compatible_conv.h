#ifndef EASEL_TRAINER_MODELS_LORA_COMPATIBLE_CONV_H_
#define EASEL_TRAINER_MODELS_LORA_COMPATIBLE_CONV_H_

#include <cstdint>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "trainer/models/lora_compatible_layer.h"

namespace easel::models {

struct LoraCompatibleConv2dOptions {
  int64_t in_channels;
  int64_t out_channels;
  int64_t kernel_size;  // square
  int64_t stride = 1;
  int64_t padding = 0;  // zeros, on every side
  bool bias = true;
};

// A 2-D convolution (parameters "weight" [out, in, k, k] and "bias", initialised like
// torch::nn::Conv2d and computing exactly what it computes) that can carry a LoRA adapter the
// way peft's conv LoRA and kohya's LoCon do: "lora_A" = Conv2d(in, rank, same kernel, stride and
// padding, no bias), "lora_B" = Conv2d(rank, out, 1x1, no bias).
class LoraCompatibleConv2dImpl : public torch::nn::Module, public LoraCompatibleLayer {
 public:
  explicit LoraCompatibleConv2dImpl(const LoraCompatibleConv2dOptions& options);
  LoraCompatibleConv2dImpl(int64_t in_channels, int64_t out_channels, int64_t kernel_size,
                           int64_t stride = 1, int64_t padding = 0, bool bias = true)
      : LoraCompatibleConv2dImpl(LoraCompatibleConv2dOptions{in_channels, out_channels,
                                                             kernel_size, stride, padding, bias}) {}

  // conv2d(x, W, b) (+ scale * lora_B(lora_A(x)) when enabled; the adapter computes in its own
  // dtype and the result is cast back).
  torch::Tensor forward(const torch::Tensor& x);

  // See LoraCompatibleLayer::EnableLora.
  void EnableLora(int64_t rank, double alpha) override;
  bool has_lora() const override { return !lora_A_.is_empty(); }
  torch::nn::Conv2d lora_A() const { return lora_A_; }
  torch::nn::Conv2d lora_B() const { return lora_B_; }
  double lora_scale() const override { return lora_scale_; }
  void set_lora_scale(double scale) override { lora_scale_ = scale; }
  int64_t lora_rank() const override { return lora_rank_; }
  torch::Tensor lora_A_weight() const override;
  torch::Tensor lora_B_weight() const override;
  std::vector<int64_t> LoraAShape(int64_t rank) const override;
  std::vector<int64_t> LoraBShape(int64_t rank) const override;
  const LoraCompatibleConv2dOptions& options() const { return options_; }

  torch::Tensor weight, bias;  // registered as "weight" and "bias" (bias undefined if none)

 private:
  LoraCompatibleConv2dOptions options_;
  torch::nn::Conv2d lora_A_{nullptr};
  torch::nn::Conv2d lora_B_{nullptr};
  double lora_scale_ = 1.0;
  int64_t lora_rank_ = 0;
};
TORCH_MODULE(LoraCompatibleConv2d);

}  // namespace easel::models

#endif  // EASEL_TRAINER_MODELS_LORA_COMPATIBLE_CONV_H_
