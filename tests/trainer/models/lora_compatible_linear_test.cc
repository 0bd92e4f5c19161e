#include "trainer/models/lora_compatible_linear.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

namespace easel::models {
namespace {

std::set<std::string> ParameterNames(const torch::nn::Module& module) {
  std::set<std::string> names;
  for (const auto& item : module.named_parameters()) names.insert(item.key());
  return names;
}

TEST(LoraCompatibleLinearTest, ComputesAffineMap) {
  torch::manual_seed(0);
  LoraCompatibleLinear linear(5, 3);
  torch::Tensor x = torch::randn({2, 4, 5});
  torch::Tensor expected = torch::matmul(x, linear->weight.t()) + linear->bias;
  EXPECT_TRUE(torch::allclose(linear(x), expected, 1e-5, 1e-6));
  EXPECT_EQ(ParameterNames(*linear), (std::set<std::string>{"weight", "bias"}));

  LoraCompatibleLinear no_bias(5, 3, /*bias=*/false);
  EXPECT_EQ(ParameterNames(*no_bias), (std::set<std::string>{"weight"}));
  EXPECT_TRUE(torch::allclose(no_bias(x), torch::matmul(x, no_bias->weight.t()), 1e-5, 1e-6));
}

TEST(LoraCompatibleLinearTest, LoraStartsAsIdentityAndAddsScaledDelta) {
  torch::manual_seed(1);
  LoraCompatibleLinear linear(6, 4);
  torch::Tensor x = torch::randn({3, 6});
  torch::Tensor before = linear(x).detach();
  linear->EnableLora(/*rank=*/2, /*alpha=*/4.0);
  EXPECT_TRUE(linear->has_lora());
  EXPECT_DOUBLE_EQ(linear->lora_scale(), 2.0);
  EXPECT_EQ(ParameterNames(*linear),
            (std::set<std::string>{"weight", "bias", "lora_A.weight", "lora_B.weight"}));
  EXPECT_EQ(linear->lora_A()->weight.sizes(), (std::vector<int64_t>{2, 6}));
  EXPECT_EQ(linear->lora_B()->weight.sizes(), (std::vector<int64_t>{4, 2}));
  EXPECT_TRUE(torch::equal(linear(x), before));

  {
    torch::NoGradGuard no_grad;
    linear->lora_B()->weight.fill_(0.5);
  }
  torch::Tensor delta = torch::matmul(torch::matmul(x, linear->lora_A()->weight.t()),
                                      linear->lora_B()->weight.t());
  torch::Tensor after = linear(x);
  EXPECT_FALSE(torch::allclose(after, before));
  EXPECT_TRUE(torch::allclose(after, before + 2.0 * delta, 1e-5, 1e-5));

  linear->set_lora_scale(0.0);
  EXPECT_TRUE(torch::allclose(linear(x), before));
}

TEST(LoraCompatibleLinearTest, GradientsReachOnlyRequestedParameters) {
  LoraCompatibleLinear linear(4, 4);
  linear->EnableLora(2, 2.0);
  linear->weight.set_requires_grad(false);
  linear->bias.set_requires_grad(false);
  linear(torch::randn({2, 4})).sum().backward();
  EXPECT_TRUE(linear->lora_B()->weight.grad().defined());
  EXPECT_FALSE(linear->weight.grad().defined());
}

}  // namespace
}  // namespace easel::models
