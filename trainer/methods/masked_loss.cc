#include "trainer/methods/masked_loss.h"

#include <torch/torch.h>

namespace easel::methods {

torch::Tensor LatentLossWeights(const torch::Tensor& mask, int64_t latent_height,
                                int64_t latent_width) {
  return torch::adaptive_avg_pool2d(mask.to(torch::kFloat32), {latent_height, latent_width});
}

torch::Tensor MaskedMseLoss(const torch::Tensor& pred, const torch::Tensor& target,
                            const torch::Tensor& weights) {
  const torch::Tensor w = weights.to(pred.device(), torch::kFloat32);
  const torch::Tensor squared = (pred.to(torch::kFloat32) - target.to(torch::kFloat32)).pow(2);
  const torch::Tensor weighted = (squared * w).sum({1, 2, 3});
  const torch::Tensor total_weight =
      (w.sum({1, 2, 3}) * static_cast<double>(pred.size(1))).clamp_min(1e-12);
  return (weighted / total_weight).mean();
}

}  // namespace easel::methods
