#include "trainer/methods/masked_loss.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace easel::methods {
namespace {

// A [1, 1, 16, 16] mask whose left half is subject (1) and right half background (0).
torch::Tensor LeftHalfMask() {
  torch::Tensor mask = torch::zeros({1, 1, 16, 16});
  mask.slice(3, 0, 8).fill_(1);
  return mask;
}

double Loss(const torch::Tensor& pred, const torch::Tensor& target, const torch::Tensor& w) {
  return MaskedMseLoss(pred, target, w).item<double>();
}

TEST(MaskedLossTest, LatentLossWeightsAverageTheMaskOverEachLatentCell) {
  torch::Tensor weights = LatentLossWeights(LeftHalfMask(), 4, 4);
  ASSERT_EQ(weights.sizes(), torch::IntArrayRef({1, 1, 4, 4}));
  EXPECT_TRUE(torch::equal(weights.slice(3, 0, 2), torch::ones({1, 1, 4, 2})));
  EXPECT_TRUE(torch::equal(weights.slice(3, 2, 4), torch::zeros({1, 1, 4, 2})));

  // A cell half covered by the subject weighs one half.
  torch::Tensor stripe = torch::zeros({1, 1, 8, 8});
  stripe.slice(3, 0, 2).fill_(1);
  torch::Tensor coarse = LatentLossWeights(stripe, 2, 2);
  EXPECT_TRUE(
      torch::allclose(coarse, torch::tensor({0.5f, 0.0f, 0.5f, 0.0f}).reshape({1, 1, 2, 2})));
}

TEST(MaskedLossTest, ChangingThePredictionWhereTheMaskIsZeroLeavesTheLossAlone) {
  torch::manual_seed(1);
  torch::Tensor target = torch::randn({1, 4, 4, 4});
  torch::Tensor pred = torch::randn({1, 4, 4, 4});
  torch::Tensor weights = LatentLossWeights(LeftHalfMask(), 4, 4);
  const double before = Loss(pred, target, weights);

  torch::Tensor background_changed = pred.clone();
  background_changed.slice(3, 2, 4).add_(5.0);  // where the mask is 0
  EXPECT_DOUBLE_EQ(Loss(background_changed, target, weights), before);
  torch::Tensor target_changed = target.clone();
  target_changed.slice(3, 2, 4).mul_(-3.0);
  EXPECT_DOUBLE_EQ(Loss(pred, target_changed, weights), before);

  torch::Tensor subject_changed = pred.clone();
  subject_changed.slice(3, 0, 2).add_(5.0);  // where the mask is 1
  EXPECT_GT(Loss(subject_changed, target, weights), before + 1.0);
}

TEST(MaskedLossTest, IsTheMeanOverTheMaskWeightedElementsOfEachImageThenOverTheBatch) {
  torch::Tensor target = torch::zeros({2, 4, 4, 4});
  torch::Tensor pred = torch::zeros({2, 4, 4, 4});
  pred[0].slice(2, 0, 2).fill_(2.0);  // image 0: error 2 on its subject, 0 elsewhere
  pred[1].fill_(1.0);                 // image 1: error 1 everywhere, no mask
  torch::Tensor weights =
      torch::cat({LatentLossWeights(LeftHalfMask(), 4, 4), torch::ones({1, 1, 4, 4})});
  // Image 0: mean of 2^2 over its subject = 4; image 1: 1; the batch: (4 + 1) / 2.
  EXPECT_DOUBLE_EQ(Loss(pred, target, weights), 2.5);
}

TEST(MaskedLossTest, WeightsOfOneAreThePlainMse) {
  torch::manual_seed(2);
  torch::Tensor target = torch::randn({3, 4, 6, 5});
  torch::Tensor pred = torch::randn({3, 4, 6, 5});
  EXPECT_NEAR(Loss(pred, target, torch::ones({3, 1, 6, 5})),
              torch::mse_loss(pred, target).item<double>(), 1e-6);
}

TEST(MaskedLossTest, AnAllZeroMaskAddsNothingAndIsFinite) {
  torch::Tensor target = torch::zeros({2, 4, 4, 4});
  torch::Tensor pred = torch::ones({2, 4, 4, 4});
  torch::Tensor weights = torch::cat({torch::zeros({1, 1, 4, 4}), torch::ones({1, 1, 4, 4})});
  EXPECT_DOUBLE_EQ(Loss(pred, target, weights), 0.5);
}

TEST(MaskedLossTest, GradientsReachOnlyTheMaskedElements) {
  torch::Tensor target = torch::zeros({1, 4, 4, 4});
  torch::Tensor pred = torch::ones({1, 4, 4, 4}, torch::requires_grad());
  MaskedMseLoss(pred, target, LatentLossWeights(LeftHalfMask(), 4, 4)).backward();
  EXPECT_TRUE(torch::equal(pred.grad().slice(3, 2, 4), torch::zeros({1, 4, 4, 2})));
  EXPECT_TRUE((pred.grad().slice(3, 0, 2) > 0).all().item<bool>());
}

}  // namespace
}  // namespace easel::methods
