// The UNet of a single-file checkpoint (CompVis / SGM openaimodel names under
// model.diffusion_model.) in diffusers' UNet2DConditionModel names, with its config inferred
// from the tensor shapes.
//
// Original layout, for L resnets per level and n levels:
//   input_blocks.0.0                 conv_in
//   input_blocks.{1 + l(L+1) + j}    level l, layer j: .0 resnet, .1 spatial transformer
//   input_blocks.{(l+1)(L+1)}.0.op   level l's downsampler (all levels but the last)
//   middle_block.0 / .1 / .2         resnet, transformer, resnet
//   output_blocks.{i(L+1) + j}       up block i (level n-1-i), layer j <= L: .0 resnet,
//                                    .1 transformer, then the upsampler conv (.1 or .2) on j = L
//   time_embed.0/.2, label_emb.0.0/.0.2, out.0/.2

#include <algorithm>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "trainer/models/single_file_source.h"

namespace easel::models::single_file_internal {
namespace {

const std::string kPrefix = "model.diffusion_model.";

std::string Input(int64_t index) { return absl::StrCat(kPrefix, "input_blocks.", index, "."); }
std::string Output(int64_t index) { return absl::StrCat(kPrefix, "output_blocks.", index, "."); }
std::string Middle(int64_t index) { return absl::StrCat(kPrefix, "middle_block.", index, "."); }

// The shape of the network as the keys describe it.
struct Layout {
  int64_t levels = 0;
  int64_t layers = 0;                // resnets per down level; up levels have one more
  std::vector<int64_t> channels;     // per level
  std::vector<bool> down_attention;  // per level
  std::vector<bool> up_attention;    // per up block (up block i is level n-1-i)
  std::vector<int64_t> depth;        // transformer blocks per level
  int64_t mid_depth = 0;
};

absl::Status Unsupported(const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat("single-file checkpoint: ", message));
}

absl::StatusOr<Layout> ReadLayout(const ComponentTensors& unet, const CheckpointTensors& source) {
  Layout layout;
  const int64_t inputs = source.CountIndexed(kPrefix + "input_blocks.");
  const int64_t outputs = source.CountIndexed(kPrefix + "output_blocks.");
  if (inputs < 2) {
    return Unsupported(absl::StrCat("missing tensors under \"", kPrefix,
                                    "input_blocks.1.\" (needed to infer the unet config)"));
  }
  int64_t first_op = 0;
  for (int64_t i = 1; i < inputs && first_op == 0; ++i) {
    if (source.Has(Input(i) + "0.op.weight")) first_op = i;
  }
  layout.layers = first_op > 0 ? first_op - 1 : inputs - 1;
  if (layout.layers < 1 || inputs % (layout.layers + 1) != 0) {
    return Unsupported(absl::StrCat("cannot tell the unet's levels apart: ", inputs,
                                    " input_blocks with the first downsampler at input_blocks.",
                                    first_op));
  }
  const int64_t n = inputs / (layout.layers + 1);
  const int64_t stride = layout.layers + 1;
  layout.levels = n;
  for (int64_t l = 0; l < n; ++l) {
    const bool has_op = source.Has(Input((l + 1) * stride) + "0.op.weight");
    if (has_op != (l + 1 < n)) {
      return Unsupported(absl::StrCat("unexpected unet layout: input_blocks.", (l + 1) * stride,
                                      has_op ? " is" : " is not", " a downsampler (", layout.layers,
                                      " layers per level, ", n, " levels)"));
    }
  }
  if (outputs != n * stride) {
    return Unsupported(absl::StrCat("the unet has ", outputs, " output_blocks; ", n, " levels of ",
                                    layout.layers, " layers need ", n * stride));
  }
  for (int64_t l = 0; l < n; ++l) {
    const int64_t first = 1 + l * stride;
    EASEL_ASSIGN_OR_RETURN(torch::Tensor conv2, unet.Peek(Input(first) + "0.out_layers.3.weight"));
    layout.channels.push_back(conv2.size(0));
    layout.down_attention.push_back(source.HasPrefix(Input(first) + "1."));
  }
  for (int64_t i = 0; i < n; ++i) {
    layout.up_attention.push_back(source.HasPrefix(Output(i * stride) + "1.transformer_blocks."));
  }
  layout.mid_depth = source.CountIndexed(Middle(1) + "transformer_blocks.");
  if (layout.mid_depth == 0) {
    EASEL_RETURN_IF_ERROR(unet.Peek(Middle(1) + "transformer_blocks.0.attn2.to_k.weight").status());
  }
  // Depth per level: from the down path, else the up path, else (last level) the mid block.
  for (int64_t l = 0; l < n; ++l) {
    const int64_t up = n - 1 - l;
    int64_t depth = 0;
    if (layout.down_attention[l]) {
      depth = source.CountIndexed(Input(1 + l * stride) + "1.transformer_blocks.");
    } else if (layout.up_attention[up]) {
      depth = source.CountIndexed(Output(up * stride) + "1.transformer_blocks.");
    } else {
      depth = l == n - 1 ? layout.mid_depth : 1;
    }
    if (depth < 1) {
      return Unsupported(
          absl::StrCat("input_blocks.", 1 + l * stride, ".1 has no transformer_blocks"));
    }
    if (layout.up_attention[up] &&
        source.CountIndexed(Output(up * stride) + "1.transformer_blocks.") != depth) {
      return Unsupported(absl::StrCat("level ", l,
                                      " has a different transformer depth on the "
                                      "way down and on the way up; not supported"));
    }
    layout.depth.push_back(depth);
  }
  if (layout.mid_depth != layout.depth[n - 1]) {
    return Unsupported(absl::StrCat("the middle block's transformer depth ", layout.mid_depth,
                                    " differs from the last level's ", layout.depth[n - 1],
                                    "; not supported"));
  }
  return layout;
}

absl::Status CopyResnet(ComponentTensors& unet, const std::string& from, const std::string& to) {
  EASEL_RETURN_IF_ERROR(unet.CopyWeightAndBias(from + "in_layers.0.", to + "norm1."));
  EASEL_RETURN_IF_ERROR(unet.CopyWeightAndBias(from + "in_layers.2.", to + "conv1."));
  EASEL_RETURN_IF_ERROR(unet.CopyWeightAndBias(from + "emb_layers.1.", to + "time_emb_proj."));
  EASEL_RETURN_IF_ERROR(unet.CopyWeightAndBias(from + "out_layers.0.", to + "norm2."));
  EASEL_RETURN_IF_ERROR(unet.CopyWeightAndBias(from + "out_layers.3.", to + "conv2."));
  // A 1x1 shortcut exists exactly when the resnet changes the channel count.
  EASEL_ASSIGN_OR_RETURN(torch::Tensor conv1, unet.Peek(from + "in_layers.2.weight"));
  EASEL_ASSIGN_OR_RETURN(torch::Tensor conv2, unet.Peek(from + "out_layers.3.weight"));
  if (conv1.dim() < 2 || conv1.size(1) != conv2.size(0)) {
    EASEL_RETURN_IF_ERROR(unet.CopyWeightAndBias(from + "skip_connection.", to + "conv_shortcut."));
  }
  return absl::OkStatus();
}

// Spatial transformers already use diffusers' inner names (norm, proj_in, transformer_blocks.k.
// {norm1..3, attn1, attn2, ff.net.0.proj, ff.net.2}, proj_out).
absl::Status CopyTransformer(ComponentTensors& unet, const std::string& from, const std::string& to,
                             int64_t depth) {
  for (const char* part : {"norm.", "proj_in.", "proj_out."}) {
    EASEL_RETURN_IF_ERROR(unet.CopyWeightAndBias(from + part, to + part));
  }
  for (int64_t k = 0; k < depth; ++k) {
    const std::string block = absl::StrCat("transformer_blocks.", k, ".");
    for (const char* part : {"norm1.", "norm2.", "norm3.", "attn1.to_out.0.", "attn2.to_out.0.",
                             "ff.net.0.proj.", "ff.net.2."}) {
      EASEL_RETURN_IF_ERROR(unet.CopyWeightAndBias(from + block + part, to + block + part));
    }
    for (const char* attn : {"attn1.", "attn2."}) {
      for (const char* proj : {"to_q.weight", "to_k.weight", "to_v.weight"}) {
        const std::string name = block + attn + proj;
        EASEL_RETURN_IF_ERROR(unet.Copy(from + name, to + name));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CopyAll(ComponentTensors& unet, const Layout& layout, bool text_time) {
  const int64_t n = layout.levels;
  const int64_t stride = layout.layers + 1;
  EASEL_RETURN_IF_ERROR(unet.CopyWeightAndBias(Input(0) + "0.", "conv_in."));
  EASEL_RETURN_IF_ERROR(
      unet.CopyWeightAndBias(kPrefix + "time_embed.0.", "time_embedding.linear_1."));
  EASEL_RETURN_IF_ERROR(
      unet.CopyWeightAndBias(kPrefix + "time_embed.2.", "time_embedding.linear_2."));
  if (text_time) {
    EASEL_RETURN_IF_ERROR(
        unet.CopyWeightAndBias(kPrefix + "label_emb.0.0.", "add_embedding.linear_1."));
    EASEL_RETURN_IF_ERROR(
        unet.CopyWeightAndBias(kPrefix + "label_emb.0.2.", "add_embedding.linear_2."));
  }
  for (int64_t l = 0; l < n; ++l) {
    const std::string to = absl::StrCat("down_blocks.", l, ".");
    for (int64_t j = 0; j < layout.layers; ++j) {
      const int64_t index = 1 + l * stride + j;
      EASEL_RETURN_IF_ERROR(
          CopyResnet(unet, Input(index) + "0.", absl::StrCat(to, "resnets.", j, ".")));
      if (layout.down_attention[l]) {
        EASEL_RETURN_IF_ERROR(CopyTransformer(
            unet, Input(index) + "1.", absl::StrCat(to, "attentions.", j, "."), layout.depth[l]));
      }
    }
    if (l + 1 < n) {
      EASEL_RETURN_IF_ERROR(
          unet.CopyWeightAndBias(Input((l + 1) * stride) + "0.op.", to + "downsamplers.0.conv."));
    }
  }
  EASEL_RETURN_IF_ERROR(CopyResnet(unet, Middle(0), "mid_block.resnets.0."));
  EASEL_RETURN_IF_ERROR(
      CopyTransformer(unet, Middle(1), "mid_block.attentions.0.", layout.mid_depth));
  EASEL_RETURN_IF_ERROR(CopyResnet(unet, Middle(2), "mid_block.resnets.1."));
  for (int64_t i = 0; i < n; ++i) {
    const std::string to = absl::StrCat("up_blocks.", i, ".");
    for (int64_t j = 0; j <= layout.layers; ++j) {
      const int64_t index = i * stride + j;
      EASEL_RETURN_IF_ERROR(
          CopyResnet(unet, Output(index) + "0.", absl::StrCat(to, "resnets.", j, ".")));
      if (layout.up_attention[i]) {
        EASEL_RETURN_IF_ERROR(CopyTransformer(unet, Output(index) + "1.",
                                              absl::StrCat(to, "attentions.", j, "."),
                                              layout.depth[n - 1 - i]));
      }
    }
    if (i + 1 < n) {
      const int64_t last = i * stride + layout.layers;
      EASEL_RETURN_IF_ERROR(unet.CopyWeightAndBias(
          absl::StrCat(Output(last), layout.up_attention[i] ? "2" : "1", ".conv."),
          to + "upsamplers.0.conv."));
    }
  }
  EASEL_RETURN_IF_ERROR(unet.CopyWeightAndBias(kPrefix + "out.0.", "conv_norm_out."));
  return unet.CopyWeightAndBias(kPrefix + "out.2.", "conv_out.");
}

absl::StatusOr<std::vector<int64_t>> Heads(const Layout& layout, const UNetRules& rules) {
  constexpr int64_t kHeadDim = 64;
  std::vector<int64_t> heads;
  for (int64_t l = 0; l < layout.levels; ++l) {
    const int64_t channels = layout.channels[l];
    const bool attention = layout.down_attention[l] || layout.up_attention[layout.levels - 1 - l] ||
                           l == layout.levels - 1;
    if (rules.eight_heads) {
      heads.push_back(8);  // diffusers' attention_head_dim: the head count
    } else if (channels % kHeadDim == 0) {
      heads.push_back(channels / kHeadDim);
    } else if (!attention) {
      heads.push_back(1);  // never used
    } else {
      return Unsupported(absl::StrCat("unet level ", l, " has ", channels,
                                      " channels, not a multiple of the head dim 64"));
    }
  }
  return heads;
}

}  // namespace

absl::StatusOr<Converted<UNet2DConditionConfig>> ConvertUNet(CheckpointTensors& source,
                                                             const UNetRules& rules) {
  ComponentTensors unet(source, "unet");
  EASEL_ASSIGN_OR_RETURN(Layout layout, ReadLayout(unet, source));
  UNet2DConditionConfig config;
  EASEL_ASSIGN_OR_RETURN(torch::Tensor conv_in, unet.Peek(Input(0) + "0.weight"));
  EASEL_ASSIGN_OR_RETURN(torch::Tensor conv_out, unet.Peek(kPrefix + "out.2.weight"));
  EASEL_ASSIGN_OR_RETURN(torch::Tensor to_k,
                         unet.Peek(Middle(1) + "transformer_blocks.0.attn2.to_k.weight"));
  EASEL_ASSIGN_OR_RETURN(torch::Tensor proj_in, unet.Peek(Middle(1) + "proj_in.weight"));
  config.in_channels = conv_in.size(1);
  config.out_channels = conv_out.size(0);
  config.block_out_channels = layout.channels;
  config.layers_per_block = layout.layers;
  config.cross_attention_dim = to_k.size(1);
  config.use_linear_projection = proj_in.dim() == 2;
  config.down_block_types.clear();
  config.up_block_types.clear();
  for (int64_t l = 0; l < layout.levels; ++l) {
    config.down_block_types.push_back(layout.down_attention[l] ? "CrossAttnDownBlock2D"
                                                               : "DownBlock2D");
    config.up_block_types.push_back(layout.up_attention[l] ? "CrossAttnUpBlock2D" : "UpBlock2D");
  }
  EASEL_ASSIGN_OR_RETURN(config.attention_head_dim, Heads(layout, rules));
  config.transformer_layers_per_block = layout.depth;
  if (std::all_of(layout.depth.begin(), layout.depth.end(),
                  [&](int64_t d) { return d == layout.depth[0]; })) {
    config.transformer_layers_per_block = {layout.depth[0]};
  }

  const bool has_label_emb = source.HasPrefix(kPrefix + "label_emb.");
  if (rules.text_time_embedding) {
    EASEL_ASSIGN_OR_RETURN(torch::Tensor linear_1, unet.Peek(kPrefix + "label_emb.0.0.weight"));
    const int64_t input_dim = linear_1.size(1);
    const int64_t time_ids = input_dim - rules.pooled_text_dim;
    if (time_ids <= 0 || time_ids % 6 != 0) {
      return Unsupported(absl::StrCat(
          "label_emb.0.0.weight takes ", input_dim, " inputs; with a pooled text embedding of ",
          rules.pooled_text_dim, " that does not leave 6 time-id embeddings"));
    }
    config.addition_embed_type = "text_time";
    config.addition_time_embed_dim = time_ids / 6;
    config.projection_class_embeddings_input_dim = input_dim;
  } else if (has_label_emb) {
    return Unsupported(
        "class-conditioned UNets (label_emb without SDXL's text encoders) are not "
        "supported");
  }
  EASEL_RETURN_IF_ERROR(ValidateInferred(config, "unet"));
  EASEL_RETURN_IF_ERROR(CopyAll(unet, layout, rules.text_time_embedding));
  return Converted<UNet2DConditionConfig>{std::move(config), unet.Release()};
}

}  // namespace easel::models::single_file_internal
