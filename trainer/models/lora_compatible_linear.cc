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
  torch::Tensor out = torch::nn::functional::linear(x, weight, bias);
  if (has_lora() && lora_scale_ != 0.0) {
    const auto lora_dtype = lora_A_->weight.scalar_type();
    torch::Tensor delta = lora_B_->forward(lora_A_->forward(x.to(lora_dtype)));
    out = out + (delta * lora_scale_).to(out.scalar_type());
  }
  return out;
}

void LoraCompatibleLinearImpl::EnableLora(int64_t rank, double alpha) {
  torch::NoGradGuard no_grad;
  auto options = torch::TensorOptions().device(weight.device()).dtype(torch::kFloat32);
  torch::nn::Linear lora_a(torch::nn::LinearOptions(in_features_, rank).bias(false));
  torch::nn::Linear lora_b(torch::nn::LinearOptions(rank, out_features_).bias(false));
  lora_a->to(options.device(), torch::kFloat32);
  lora_b->to(options.device(), torch::kFloat32);
  torch::nn::init::kaiming_uniform_(lora_a->weight, std::sqrt(5.0));
  torch::nn::init::zeros_(lora_b->weight);
  if (has_lora()) {
    lora_A_ = replace_module("lora_A", lora_a);
    lora_B_ = replace_module("lora_B", lora_b);
  } else {
    lora_A_ = register_module("lora_A", lora_a);
    lora_B_ = register_module("lora_B", lora_b);
  }
  lora_rank_ = rank;
  lora_scale_ = alpha / static_cast<double>(rank);
}

}  // namespace easel::models
