#include "trainer/models/lora_compatible_conv.h"

#include <cmath>

#include <torch/torch.h>

namespace easel::models {

LoraCompatibleConv2dImpl::LoraCompatibleConv2dImpl(const LoraCompatibleConv2dOptions& options)
    : options_(options) {
  const int64_t k = options.kernel_size;
  // Registration and initialisation in torch::nn::Conv2d's order, so a seeded model gets the
  // same weights as one built from Conv2d.
  weight = register_parameter("weight",
                              torch::empty({options.out_channels, options.in_channels, k, k}));
  if (options.bias) bias = register_parameter("bias", torch::empty({options.out_channels}));
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (options.bias) {
    const int64_t fan_in = options.in_channels * k * k;
    const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0;
    torch::nn::init::uniform_(bias, -bound, bound);
  }
}

torch::Tensor LoraCompatibleConv2dImpl::forward(const torch::Tensor& x) {
  torch::Tensor out = torch::conv2d(x, weight, bias, {options_.stride, options_.stride},
                                    {options_.padding, options_.padding});
  if (has_lora() && lora_scale_ != 0.0) {
    const auto lora_dtype = lora_A_->weight.scalar_type();
    torch::Tensor delta = lora_B_->forward(lora_A_->forward(x.to(lora_dtype)));
    out = out + (delta * lora_scale_).to(out.scalar_type());
  }
  return out;
}

void LoraCompatibleConv2dImpl::EnableLora(int64_t rank, double alpha) {
  // Built one after the other: their default initialisation draws from the global generator.
  torch::nn::Conv2d lora_a(torch::nn::Conv2dOptions(options_.in_channels, rank,
                                                    options_.kernel_size)
                               .stride(options_.stride)
                               .padding(options_.padding)
                               .bias(false));
  torch::nn::Conv2d lora_b(torch::nn::Conv2dOptions(rank, options_.out_channels, 1).bias(false));
  InstallLoraPair(*this, lora_a, lora_b, weight.device(), lora_A_, lora_B_);
  lora_rank_ = rank;
  lora_scale_ = alpha / static_cast<double>(rank);
}

torch::Tensor LoraCompatibleConv2dImpl::lora_A_weight() const {
  return has_lora() ? lora_A_->weight : torch::Tensor();
}

torch::Tensor LoraCompatibleConv2dImpl::lora_B_weight() const {
  return has_lora() ? lora_B_->weight : torch::Tensor();
}

std::vector<int64_t> LoraCompatibleConv2dImpl::LoraAShape(int64_t rank) const {
  return {rank, options_.in_channels, options_.kernel_size, options_.kernel_size};
}

std::vector<int64_t> LoraCompatibleConv2dImpl::LoraBShape(int64_t rank) const {
  return {options_.out_channels, rank, 1, 1};
}

}  // namespace easel::models
