#include "trainer/models/lora_compatible_linear.h"

#include <cmath>

#include <torch/torch.h>

namespace easel::models {

LoraCompatibleLinearImpl::LoraCompatibleLinearImpl(int64_t in_features, int64_t out_features,
                                                   bool bias)
    : in_features_(in_features), out_features_(out_features) {
  weight = register_parameter("weight", torch::empty({out_features, in_features}));
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias) {
    const double bound = in_features > 0 ? 1.0 / std::sqrt(static_cast<double>(in_features)) : 0;
    this->bias = register_parameter("bias", torch::empty({out_features}));
    torch::nn::init::uniform_(this->bias, -bound, bound);
  }
}

torch::Tensor LoraCompatibleLinearImpl::forward(const torch::Tensor& x) {
  // at::linear, as PyTorch's nn.Linear calls it: for [B, N, C] inputs it folds the bias into
  // the GEMM (one rounding in bf16), where the C++ frontend's functional::linear adds it after.
  torch::Tensor out = torch::linear(x, weight, bias);
  if (has_lora() && lora_scale_ != 0.0) {
    const auto lora_dtype = lora_A_->weight.scalar_type();
    torch::Tensor delta = lora_B_->forward(lora_A_->forward(x.to(lora_dtype)));
    out = out + (delta * lora_scale_).to(out.scalar_type());
  }
  return out;
}

void LoraCompatibleLinearImpl::EnableLora(int64_t rank, double alpha) {
  // Built one after the other: their default initialisation draws from the global generator.
  torch::nn::Linear lora_a(torch::nn::LinearOptions(in_features_, rank).bias(false));
  torch::nn::Linear lora_b(torch::nn::LinearOptions(rank, out_features_).bias(false));
  InstallLoraPair(*this, lora_a, lora_b, weight.device(), lora_A_, lora_B_);
  lora_rank_ = rank;
  lora_scale_ = alpha / static_cast<double>(rank);
}

}  // namespace easel::models
