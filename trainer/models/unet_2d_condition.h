#ifndef EASEL_TRAINER_MODELS_UNET_2D_CONDITION_H_
#define EASEL_TRAINER_MODELS_UNET_2D_CONDITION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/models/embeddings.h"
#include "trainer/models/lora_compatible_conv.h"
#include "trainer/models/unet_2d_blocks.h"

namespace easel::models {

// diffusers' UNet2DConditionModel config.json, field names as diffusers writes them.
struct UNet2DConditionConfig {
  int64_t sample_size = 64;
  int64_t in_channels = 4;
  int64_t out_channels = 4;
  bool center_input_sample = false;
  bool flip_sin_to_cos = true;
  int64_t freq_shift = 0;
  std::vector<std::string> down_block_types = {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                               "CrossAttnDownBlock2D", "DownBlock2D"};
  std::string mid_block_type = "UNetMidBlock2DCrossAttn";
  std::vector<std::string> up_block_types = {"UpBlock2D", "CrossAttnUpBlock2D",
                                             "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"};
  std::vector<int64_t> block_out_channels = {320, 640, 1280, 1280};
  int64_t layers_per_block = 2;
  int64_t downsample_padding = 1;
  double mid_block_scale_factor = 1.0;
  std::string act_fn = "silu";
  int64_t norm_num_groups = 32;
  double norm_eps = 1e-5;
  int64_t cross_attention_dim = 768;
  // Per down block; in SD configs this is the NUMBER of heads (diffusers' naming quirk).
  std::vector<int64_t> attention_head_dim = {8, 8, 8, 8};
  bool use_linear_projection = false;
  // Set when config.json has num_attention_heads (SD2-style configs); else attention_head_dim.
  std::vector<int64_t> num_attention_heads;
  bool upcast_attention = false;
  bool only_cross_attention = false;
  std::string resnet_time_scale_shift = "default";
  // Per down block (one value: all blocks); up blocks take them reversed, the mid block the
  // last. SDXL: [1, 2, 10].
  std::vector<int64_t> transformer_layers_per_block = {1};
  // "text_time" (SDXL): pooled text embeds + sinusoidal embeds of the 6 time ids are added to
  // the timestep embedding. Empty: none.
  std::string addition_embed_type;
  int64_t addition_time_embed_dim = 0;
  int64_t projection_class_embeddings_input_dim = 0;

  static absl::StatusOr<UNet2DConditionConfig> FromJson(const nlohmann::json& json);
  nlohmann::json ToJson() const;
  // Heads per down block, as diffusers resolves them.
  std::vector<int64_t> HeadsPerBlock() const;
  std::vector<int64_t> TransformerLayersPerBlock() const;
  // Structural checks (lengths, divisibility, block types) with messages naming the field.
  absl::Status Validate() const;
};

// diffusers' added_cond_kwargs for addition_embed_type "text_time".
struct UNetAddedConditions {
  torch::Tensor text_embeds;  // [B, pooled text dim], the projected pooled text embedding
  torch::Tensor time_ids;     // [B, 6]: original size, crop top-left, target size
};

class UNet2DConditionModelImpl : public torch::nn::Module {
 public:
  // Construct from a config validated by FromJson (throws c10::Error on an invalid one).
  explicit UNet2DConditionModelImpl(const UNet2DConditionConfig& config);

  // sample [B,C,H,W]; timesteps [B] or scalar (int64 or float);
  // encoder_hidden_states [B,L,cross_attention_dim]; `added` is required when the config has
  // an addition_embed_type. Returns [B,out_channels,H,W].
  torch::Tensor forward(const torch::Tensor& sample, const torch::Tensor& timesteps,
                        const torch::Tensor& encoder_hidden_states,
                        const UNetAddedConditions& added = {});
  const UNet2DConditionConfig& config() const { return config_; }

 private:
  UNet2DConditionConfig config_;
  Timesteps time_proj_{nullptr};
  TimestepEmbedding time_embedding_{nullptr};
  Timesteps add_time_proj_{nullptr};
  TimestepEmbedding add_embedding_{nullptr};
  LoraCompatibleConv2d conv_in_{nullptr};
  std::vector<std::shared_ptr<DownBlockBase>> down_blocks_;
  std::shared_ptr<UNetMidBlock2DCrossAttnImpl> mid_block_;
  std::vector<std::shared_ptr<UpBlockBase>> up_blocks_;
  torch::nn::GroupNorm conv_norm_out_{nullptr};
  LoraCompatibleConv2d conv_out_{nullptr};
};
TORCH_MODULE(UNet2DConditionModel);

}  // namespace easel::models

#endif  // EASEL_TRAINER_MODELS_UNET_2D_CONDITION_H_
