#ifndef EASEL_TRAINER_METHODS_MASKED_LOSS_H_
#define EASEL_TRAINER_METHODS_MASKED_LOSS_H_

#include <torch/types.h>

#include <cstdint>

namespace easel::methods {

// A mask [N, 1, H, W] in [0, 1] (1 = subject) brought to latent size [N, 1, h, w] by area
// averaging: each latent cell weighs the mean of the mask pixels it covers.
torch::Tensor LatentLossWeights(const torch::Tensor& mask, int64_t latent_height,
                                int64_t latent_width);

// The mean squared error of `pred` against `target` ([B, C, h, w]), each element weighted by
// `weights` ([B, 1, h, w], broadcast over channels) and normalised per image by its weight:
//   loss_b = sum_{c,y,x} w_b(y,x) (pred - target)_b(c,y,x)^2 / (C * sum_{y,x} w_b(y,x))
//   loss   = mean_b loss_b
// -- the mean over the mask-weighted elements of each image, then over the batch. With
// weights of 1 everywhere it is the plain MSE. An image whose weights are all 0 adds 0.
// Computed in float32.
torch::Tensor MaskedMseLoss(const torch::Tensor& pred, const torch::Tensor& target,
                            const torch::Tensor& weights);

}  // namespace easel::methods

#endif  // EASEL_TRAINER_METHODS_MASKED_LOSS_H_
