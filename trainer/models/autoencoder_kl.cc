#include "trainer/models/autoencoder_kl.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "trainer/models/json_fields.h"
#include "trainer/models/vae_blocks.h"

namespace easel::models {
namespace {

constexpr std::string_view kWhat = "vae config.json";

absl::Status Bad(std::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("vae config.json: ", std::string(message)));
}

absl::Status Validate(const AutoencoderKLConfig& c) {
  const size_t n = c.block_out_channels.size();
  if (n == 0) return Bad("block_out_channels is empty");
  if (c.down_block_types.size() != n || c.up_block_types.size() != n) {
    return Bad(absl::StrCat("down_block_types/up_block_types must have ", n,
                            " entries like block_out_channels"));
  }
  std::vector<std::string> unknown;
  for (const auto& type : c.down_block_types) {
    if (type != "DownEncoderBlock2D") unknown.push_back(type);
  }
  for (const auto& type : c.up_block_types) {
    if (type != "UpDecoderBlock2D") unknown.push_back(type);
  }
  if (!unknown.empty()) {
    return Bad(absl::StrCat("unsupported block types: ", absl::StrJoin(unknown, ", ")));
  }
  if (c.norm_num_groups < 1) return Bad("norm_num_groups must be >= 1");
  for (size_t i = 0; i < n; ++i) {
    if (c.block_out_channels[i] <= 0 || c.block_out_channels[i] % c.norm_num_groups != 0) {
      return Bad(absl::StrCat("block_out_channels[", i, "] = ", c.block_out_channels[i],
                              " is not a positive multiple of norm_num_groups ",
                              c.norm_num_groups));
    }
  }
  if (c.layers_per_block < 1 || c.latent_channels < 1 || c.in_channels < 1 || c.out_channels < 1) {
    return Bad("layers_per_block, latent_channels, in_channels, out_channels must be positive");
  }
  if (c.act_fn != "silu") return Bad(absl::StrCat("unsupported act_fn \"", c.act_fn, "\""));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<AutoencoderKLConfig> AutoencoderKLConfig::FromJson(const nlohmann::json& json) {
  if (!json.is_object()) return Bad("not a JSON object");
  AutoencoderKLConfig c;
  EASEL_RETURN_IF_ERROR(ReadField(json, "in_channels", kWhat, &c.in_channels));
  EASEL_RETURN_IF_ERROR(ReadField(json, "out_channels", kWhat, &c.out_channels));
  EASEL_RETURN_IF_ERROR(ReadField(json, "down_block_types", kWhat, &c.down_block_types));
  EASEL_RETURN_IF_ERROR(ReadField(json, "up_block_types", kWhat, &c.up_block_types));
  EASEL_RETURN_IF_ERROR(ReadField(json, "block_out_channels", kWhat, &c.block_out_channels));
  EASEL_RETURN_IF_ERROR(ReadField(json, "layers_per_block", kWhat, &c.layers_per_block));
  EASEL_RETURN_IF_ERROR(ReadField(json, "act_fn", kWhat, &c.act_fn));
  EASEL_RETURN_IF_ERROR(ReadField(json, "latent_channels", kWhat, &c.latent_channels));
  EASEL_RETURN_IF_ERROR(ReadField(json, "norm_num_groups", kWhat, &c.norm_num_groups));
  EASEL_RETURN_IF_ERROR(ReadField(json, "sample_size", kWhat, &c.sample_size));
  EASEL_RETURN_IF_ERROR(ReadField(json, "scaling_factor", kWhat, &c.scaling_factor));
  for (const char* key : {"use_quant_conv", "use_post_quant_conv"}) {
    auto it = json.find(key);
    if (it != json.end() && it->is_boolean() && !it->get<bool>()) {
      return Bad(absl::StrCat(key, " = false is not supported"));
    }
  }
  EASEL_RETURN_IF_ERROR(Validate(c));
  return c;
}

nlohmann::json AutoencoderKLConfig::ToJson() const {
  return {{"_class_name", "AutoencoderKL"},
          {"_diffusers_version", "0.21.4"},
          {"in_channels", in_channels},
          {"out_channels", out_channels},
          {"down_block_types", down_block_types},
          {"up_block_types", up_block_types},
          {"block_out_channels", block_out_channels},
          {"layers_per_block", layers_per_block},
          {"act_fn", act_fn},
          {"latent_channels", latent_channels},
          {"norm_num_groups", norm_num_groups},
          {"sample_size", sample_size},
          {"scaling_factor", scaling_factor}};
}

torch::Tensor LatentDistribution::Sample(const torch::Tensor& noise) const {
  return mean + torch::exp(0.5 * logvar) * noise;
}

torch::Tensor LatentDistribution::Sample(std::optional<at::Generator> generator) const {
  torch::Tensor noise = at::randn(mean.sizes(), generator ? c10::optional<at::Generator>(*generator)
                                                          : c10::optional<at::Generator>(),
                                  mean.options());
  return Sample(noise);
}

AutoencoderKLImpl::AutoencoderKLImpl(const AutoencoderKLConfig& config) : config_(config) {
  absl::Status status = Validate(config);
  TORCH_CHECK(status.ok(), std::string(status.message()));
  encoder_ = register_module("encoder", std::make_shared<VaeEncoderImpl>(config));
  decoder_ = register_module("decoder", std::make_shared<VaeDecoderImpl>(config));
  const int64_t latent = config.latent_channels;
  quant_conv_ = register_module(
      "quant_conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(2 * latent, 2 * latent, 1)));
  post_quant_conv_ = register_module(
      "post_quant_conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(latent, latent, 1)));
}

LatentDistribution AutoencoderKLImpl::Encode(const torch::Tensor& pixels) {
  torch::Tensor moments = quant_conv_(encoder_->forward(pixels));
  auto parts = moments.chunk(2, 1);
  return LatentDistribution{parts[0], parts[1].clamp(-30.0, 20.0)};
}

torch::Tensor AutoencoderKLImpl::Decode(const torch::Tensor& latents) {
  return decoder_->forward(post_quant_conv_(latents));
}

void RenameLegacyVaeAttention(std::map<std::string, torch::Tensor>& tensors) {
  static const std::pair<std::string_view, std::string_view> kRenames[] = {
      {".query.", ".to_q."}, {".key.", ".to_k."}, {".value.", ".to_v."},
      {".proj_attn.", ".to_out.0."}};
  std::map<std::string, torch::Tensor> renamed;
  for (auto& [name, tensor] : tensors) {
    std::string new_name = name;
    for (const auto& [legacy, current] : kRenames) {
      const size_t at = name.find(legacy);
      if (at == std::string::npos || name.find(".attentions.") == std::string::npos) continue;
      new_name = name.substr(0, at) + std::string(current) + name.substr(at + legacy.size());
      break;
    }
    const bool is_attention_weight = new_name != name && tensor.dim() == 4;
    renamed.emplace(new_name, is_attention_weight ? tensor.flatten(1) : tensor);
  }
  tensors = std::move(renamed);
}

}  // namespace easel::models
