// The VAE of a single-file checkpoint (CompVis AutoencoderKL names under first_stage_model.)
// in diffusers' AutoencoderKL names, with its config inferred from the tensor shapes.
//
// Original layout, for n levels of L resnets:
//   encoder.down.{l}.block.{j} (j < L), encoder.down.{l}.downsample.conv (l < n-1)
//   decoder.up.{k}.block.{j} (j <= L), decoder.up.{k}.upsample.conv (k > 0); up.k is stored
//     by resolution level, so diffusers' up block i is up.{n-1-i}
//   {encoder,decoder}.mid.block_1 / attn_1 / block_2, norm_out, conv_in, conv_out
//   attention: norm, q, k, v, proj_out (1x1 conv kernels)

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "trainer/models/single_file_source.h"

namespace easel::models::single_file_internal {
namespace {

const std::string kPrefix = "first_stage_model.";

absl::Status CopyResnet(ComponentTensors& vae, const std::string& from, const std::string& to) {
  for (const char* part : {"norm1.", "conv1.", "norm2.", "conv2."}) {
    EASEL_RETURN_IF_ERROR(vae.CopyWeightAndBias(from + part, to + part));
  }
  EASEL_ASSIGN_OR_RETURN(torch::Tensor conv1, vae.Peek(from + "conv1.weight"));
  EASEL_ASSIGN_OR_RETURN(torch::Tensor conv2, vae.Peek(from + "conv2.weight"));
  if (conv1.dim() < 2 || conv1.size(1) != conv2.size(0)) {
    EASEL_RETURN_IF_ERROR(vae.CopyWeightAndBias(from + "nin_shortcut.", to + "conv_shortcut."));
  }
  return absl::OkStatus();
}

absl::Status CopyAttention(ComponentTensors& vae, const std::string& from, const std::string& to) {
  EASEL_RETURN_IF_ERROR(vae.CopyWeightAndBias(from + "norm.", to + "group_norm."));
  const std::pair<const char*, const char*> kProjections[] = {
      {"q.", "to_q."}, {"k.", "to_k."}, {"v.", "to_v."}, {"proj_out.", "to_out.0."}};
  for (const auto& [original, ours] : kProjections) {
    const std::string target = to + ours + "weight";
    EASEL_ASSIGN_OR_RETURN(torch::Tensor weight, vae.Take(from + original + "weight", target));
    // 1x1 convolution kernels [out, in, 1, 1] are linear weights [out, in].
    while (weight.dim() > 2 && weight.size(-1) == 1) weight = weight.squeeze(-1);
    vae.Put(target, weight);
    EASEL_RETURN_IF_ERROR(vae.Copy(from + original + "bias", to + ours + "bias"));
  }
  return absl::OkStatus();
}

absl::Status CopyMid(ComponentTensors& vae, const std::string& from, const std::string& to) {
  EASEL_RETURN_IF_ERROR(CopyResnet(vae, from + "block_1.", to + "resnets.0."));
  EASEL_RETURN_IF_ERROR(CopyAttention(vae, from + "attn_1.", to + "attentions.0."));
  return CopyResnet(vae, from + "block_2.", to + "resnets.1.");
}

absl::Status CopyAll(ComponentTensors& vae, int64_t levels, int64_t layers) {
  const std::string encoder = kPrefix + "encoder.";
  const std::string decoder = kPrefix + "decoder.";
  EASEL_RETURN_IF_ERROR(vae.CopyWeightAndBias(encoder + "conv_in.", "encoder.conv_in."));
  for (int64_t l = 0; l < levels; ++l) {
    const std::string from = absl::StrCat(encoder, "down.", l, ".");
    const std::string to = absl::StrCat("encoder.down_blocks.", l, ".");
    for (int64_t j = 0; j < layers; ++j) {
      EASEL_RETURN_IF_ERROR(CopyResnet(vae, absl::StrCat(from, "block.", j, "."),
                                       absl::StrCat(to, "resnets.", j, ".")));
    }
    if (l + 1 < levels) {
      EASEL_RETURN_IF_ERROR(
          vae.CopyWeightAndBias(from + "downsample.conv.", to + "downsamplers.0.conv."));
    }
  }
  EASEL_RETURN_IF_ERROR(CopyMid(vae, encoder + "mid.", "encoder.mid_block."));
  EASEL_RETURN_IF_ERROR(vae.CopyWeightAndBias(encoder + "norm_out.", "encoder.conv_norm_out."));
  EASEL_RETURN_IF_ERROR(vae.CopyWeightAndBias(encoder + "conv_out.", "encoder.conv_out."));
  EASEL_RETURN_IF_ERROR(vae.CopyWeightAndBias(kPrefix + "quant_conv.", "quant_conv."));
  EASEL_RETURN_IF_ERROR(vae.CopyWeightAndBias(kPrefix + "post_quant_conv.", "post_quant_conv."));
  EASEL_RETURN_IF_ERROR(vae.CopyWeightAndBias(decoder + "conv_in.", "decoder.conv_in."));
  EASEL_RETURN_IF_ERROR(CopyMid(vae, decoder + "mid.", "decoder.mid_block."));
  for (int64_t i = 0; i < levels; ++i) {
    const int64_t level = levels - 1 - i;
    const std::string from = absl::StrCat(decoder, "up.", level, ".");
    const std::string to = absl::StrCat("decoder.up_blocks.", i, ".");
    for (int64_t j = 0; j <= layers; ++j) {
      EASEL_RETURN_IF_ERROR(CopyResnet(vae, absl::StrCat(from, "block.", j, "."),
                                       absl::StrCat(to, "resnets.", j, ".")));
    }
    if (level > 0) {
      EASEL_RETURN_IF_ERROR(
          vae.CopyWeightAndBias(from + "upsample.conv.", to + "upsamplers.0.conv."));
    }
  }
  EASEL_RETURN_IF_ERROR(vae.CopyWeightAndBias(decoder + "norm_out.", "decoder.conv_norm_out."));
  return vae.CopyWeightAndBias(decoder + "conv_out.", "decoder.conv_out.");
}

}  // namespace

absl::StatusOr<Converted<AutoencoderKLConfig>> ConvertVae(CheckpointTensors& source,
                                                          double scaling_factor,
                                                          int64_t sample_size) {
  ComponentTensors vae(source, "vae");
  const int64_t levels = source.CountIndexed(kPrefix + "encoder.down.");
  const int64_t layers = source.CountIndexed(kPrefix + "encoder.down.0.block.");
  if (levels == 0 || layers == 0) {
    EASEL_RETURN_IF_ERROR(vae.Peek(kPrefix + "encoder.down.0.block.0.conv1.weight").status());
  }
  const int64_t up_levels = source.CountIndexed(kPrefix + "decoder.up.");
  if (up_levels != levels) {
    return absl::InvalidArgumentError(absl::StrCat(
        "single-file checkpoint: the vae encoder has ", levels,
        " levels (encoder.down.*) but the decoder has ", up_levels, " (decoder.up.*)"));
  }
  AutoencoderKLConfig config;
  config.block_out_channels.clear();
  for (int64_t l = 0; l < levels; ++l) {
    EASEL_ASSIGN_OR_RETURN(torch::Tensor conv1, vae.Peek(absl::StrCat(kPrefix, "encoder.down.", l,
                                                                      ".block.0.conv1.weight")));
    config.block_out_channels.push_back(conv1.size(0));
  }
  EASEL_ASSIGN_OR_RETURN(torch::Tensor conv_in, vae.Peek(kPrefix + "encoder.conv_in.weight"));
  EASEL_ASSIGN_OR_RETURN(torch::Tensor latent_in, vae.Peek(kPrefix + "decoder.conv_in.weight"));
  EASEL_ASSIGN_OR_RETURN(torch::Tensor conv_out, vae.Peek(kPrefix + "decoder.conv_out.weight"));
  config.in_channels = conv_in.size(1);
  config.out_channels = conv_out.size(0);
  config.latent_channels = latent_in.size(1);
  config.layers_per_block = layers;
  config.down_block_types.assign(levels, "DownEncoderBlock2D");
  config.up_block_types.assign(levels, "UpDecoderBlock2D");
  config.scaling_factor = scaling_factor;
  config.sample_size = sample_size;
  EASEL_RETURN_IF_ERROR(ValidateInferred(config, "vae"));
  EASEL_RETURN_IF_ERROR(CopyAll(vae, levels, layers));
  return Converted<AutoencoderKLConfig>{std::move(config), vae.Release()};
}

}  // namespace easel::models::single_file_internal
