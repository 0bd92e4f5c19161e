#ifndef EASEL_TRAINER_MODELS_AUTOENCODER_KL_H_
#define EASEL_TRAINER_MODELS_AUTOENCODER_KL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Generator.h>
#include <nlohmann/json.hpp>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "absl/status/statusor.h"

namespace easel::models {

// diffusers' AutoencoderKL config.json.
struct AutoencoderKLConfig {
  int64_t in_channels = 3;
  int64_t out_channels = 3;
  std::vector<std::string> down_block_types = {"DownEncoderBlock2D", "DownEncoderBlock2D",
                                               "DownEncoderBlock2D", "DownEncoderBlock2D"};
  std::vector<std::string> up_block_types = {"UpDecoderBlock2D", "UpDecoderBlock2D",
                                             "UpDecoderBlock2D", "UpDecoderBlock2D"};
  std::vector<int64_t> block_out_channels = {128, 256, 512, 512};
  int64_t layers_per_block = 2;
  std::string act_fn = "silu";
  int64_t latent_channels = 4;
  int64_t norm_num_groups = 32;
  int64_t sample_size = 512;
  double scaling_factor = 0.18215;

  static absl::StatusOr<AutoencoderKLConfig> FromJson(const nlohmann::json& json);
  nlohmann::json ToJson() const;
};

struct LatentDistribution {
  torch::Tensor mean;
  torch::Tensor logvar;  // clamped to [-30, 20]
  // mean + exp(0.5 * logvar) * noise
  torch::Tensor Sample(const torch::Tensor& noise) const;
  torch::Tensor Sample(std::optional<at::Generator> generator = std::nullopt) const;
  torch::Tensor Mode() const { return mean; }
};

class VaeEncoderImpl;
class VaeDecoderImpl;

class AutoencoderKLImpl : public torch::nn::Module {
 public:
  explicit AutoencoderKLImpl(const AutoencoderKLConfig& config);
  // pixels [B,3,H,W] in [-1,1] -> latent distribution [B,latent_channels,H/f,W/f] (unscaled).
  LatentDistribution Encode(const torch::Tensor& pixels);
  // unscaled latents -> pixels in about [-1,1].
  torch::Tensor Decode(const torch::Tensor& latents);
  double scaling_factor() const { return config_.scaling_factor; }
  const AutoencoderKLConfig& config() const { return config_; }

 private:
  AutoencoderKLConfig config_;
  std::shared_ptr<VaeEncoderImpl> encoder_;
  std::shared_ptr<VaeDecoderImpl> decoder_;
  torch::nn::Conv2d quant_conv_{nullptr};
  torch::nn::Conv2d post_quant_conv_{nullptr};
};
TORCH_MODULE(AutoencoderKL);

// Renames the VAE attention tensors of older diffusers files (attentions.0.query / key / value /
// proj_attn, possibly stored as 1x1 conv kernels) to the current names (to_q / to_k / to_v /
// to_out.0, linear weights). Other tensors are left alone.
void RenameLegacyVaeAttention(std::map<std::string, torch::Tensor>& tensors);

}  // namespace easel::models

#endif  // EASEL_TRAINER_MODELS_AUTOENCODER_KL_H_
