#include "tests/trainer/models/single_file_test_models.h"

#include <regex>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "trainer/models/weights.h"

namespace easel::models::single_file_test {
namespace {

// ---------------------------------------------------------------------------------------------
// Our names -> the original (CompVis / SGM / OpenCLIP) names: the inverse of the converter,
// written here from the layout of the original code, independently of trainer/models/.

const std::string kUNet = "model.diffusion_model.";
const std::string kVae = "first_stage_model.";

std::string ResnetSuffix(const std::string& rest, bool vae) {
  static const std::pair<std::string, std::string> kUNetParts[] = {
      {"norm1.", "in_layers.0."},          {"conv1.", "in_layers.2."},
      {"time_emb_proj.", "emb_layers.1."}, {"norm2.", "out_layers.0."},
      {"conv2.", "out_layers.3."},         {"conv_shortcut.", "skip_connection."}};
  if (vae) {
    return rest.rfind("conv_shortcut.", 0) == 0 ? "nin_shortcut." + rest.substr(14) : rest;
  }
  for (const auto& [ours, original] : kUNetParts) {
    if (rest.rfind(ours, 0) == 0) return original + rest.substr(ours.size());
  }
  ADD_FAILURE() << "unknown resnet tensor " << rest;
  return rest;
}

std::string OriginalUNetName(const std::string& name, const UNet2DConditionConfig& config) {
  static const std::pair<std::string, std::string> kTop[] = {
      {"conv_in.", "input_blocks.0.0."},
      {"time_embedding.linear_1.", "time_embed.0."},
      {"time_embedding.linear_2.", "time_embed.2."},
      {"add_embedding.linear_1.", "label_emb.0.0."},
      {"add_embedding.linear_2.", "label_emb.0.2."},
      {"conv_norm_out.", "out.0."},
      {"conv_out.", "out.2."}};
  for (const auto& [ours, original] : kTop) {
    if (name.rfind(ours, 0) == 0) return kUNet + original + name.substr(ours.size());
  }
  const int64_t per_level = config.layers_per_block + 1;
  static const std::regex kDownResnet(R"(down_blocks\.(\d+)\.resnets\.(\d+)\.(.+))");
  static const std::regex kDownAttention(R"(down_blocks\.(\d+)\.attentions\.(\d+)\.(.+))");
  static const std::regex kDownsample(R"(down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+))");
  static const std::regex kMidResnet(R"(mid_block\.resnets\.(\d+)\.(.+))");
  static const std::regex kMidAttention(R"(mid_block\.attentions\.0\.(.+))");
  static const std::regex kUpResnet(R"(up_blocks\.(\d+)\.resnets\.(\d+)\.(.+))");
  static const std::regex kUpAttention(R"(up_blocks\.(\d+)\.attentions\.(\d+)\.(.+))");
  static const std::regex kUpsample(R"(up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+))");
  std::smatch m;
  auto number = [&](int i) { return std::stol(m[i].str()); };
  if (std::regex_match(name, m, kDownResnet)) {
    return kUNet + "input_blocks." + std::to_string(1 + number(1) * per_level + number(2)) + ".0." +
           ResnetSuffix(m[3], false);
  }
  if (std::regex_match(name, m, kDownAttention)) {
    return kUNet + "input_blocks." + std::to_string(1 + number(1) * per_level + number(2)) + ".1." +
           m[3].str();
  }
  if (std::regex_match(name, m, kDownsample)) {
    return kUNet + "input_blocks." + std::to_string((number(1) + 1) * per_level) + ".0.op." +
           m[2].str();
  }
  if (std::regex_match(name, m, kMidResnet)) {
    return kUNet + "middle_block." + std::to_string(2 * number(1)) + "." +
           ResnetSuffix(m[2], false);
  }
  if (std::regex_match(name, m, kMidAttention)) return kUNet + "middle_block.1." + m[1].str();
  if (std::regex_match(name, m, kUpResnet)) {
    return kUNet + "output_blocks." + std::to_string(number(1) * per_level + number(2)) + ".0." +
           ResnetSuffix(m[3], false);
  }
  if (std::regex_match(name, m, kUpAttention)) {
    return kUNet + "output_blocks." + std::to_string(number(1) * per_level + number(2)) + ".1." +
           m[3].str();
  }
  if (std::regex_match(name, m, kUpsample)) {
    const bool attention = config.up_block_types[number(1)] == "CrossAttnUpBlock2D";
    return kUNet + "output_blocks." + std::to_string(number(1) * per_level + per_level - 1) +
           (attention ? ".2.conv." : ".1.conv.") + m[2].str();
  }
  ADD_FAILURE() << "no original name for unet tensor " << name;
  return name;
}

// Returns the original name; *conv_kernel is set for attention weights stored as 1x1 convs.
std::string OriginalVaeName(const std::string& name, int64_t levels, bool* conv_kernel) {
  *conv_kernel = false;
  static const std::regex kDown(R"(encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.+))");
  static const std::regex kDownsample(R"(encoder\.down_blocks\.(\d+)\.downsamplers\.0\.(.+))");
  static const std::regex kUp(R"(decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.+))");
  static const std::regex kUpsample(R"(decoder\.up_blocks\.(\d+)\.upsamplers\.0\.(.+))");
  static const std::regex kMidResnet(R"((encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.+))");
  static const std::regex kMidAttention(
      R"((encoder|decoder)\.mid_block\.attentions\.0\.(group_norm|to_q|to_k|to_v|to_out\.0)\.(weight|bias))");
  static const std::regex kNormOut(R"((encoder|decoder)\.conv_norm_out\.(.+))");
  std::smatch m;
  auto number = [&](int i) { return std::stol(m[i].str()); };
  if (std::regex_match(name, m, kDown)) {
    return kVae + "encoder.down." + m[1].str() + ".block." + m[2].str() + "." +
           ResnetSuffix(m[3], true);
  }
  if (std::regex_match(name, m, kDownsample)) {
    return kVae + "encoder.down." + m[1].str() + ".downsample." + m[2].str();
  }
  if (std::regex_match(name, m, kUp)) {
    return kVae + "decoder.up." + std::to_string(levels - 1 - number(1)) + ".block." + m[2].str() +
           "." + ResnetSuffix(m[3], true);
  }
  if (std::regex_match(name, m, kUpsample)) {
    return kVae + "decoder.up." + std::to_string(levels - 1 - number(1)) + ".upsample." +
           m[2].str();
  }
  if (std::regex_match(name, m, kMidResnet)) {
    return kVae + m[1].str() + ".mid.block_" + std::to_string(number(2) + 1) + "." +
           ResnetSuffix(m[3], true);
  }
  if (std::regex_match(name, m, kMidAttention)) {
    static const std::map<std::string, std::string> kParts = {{"group_norm", "norm"},
                                                              {"to_q", "q"},
                                                              {"to_k", "k"},
                                                              {"to_v", "v"},
                                                              {"to_out.0", "proj_out"}};
    *conv_kernel = m[2].str() != "group_norm" && m[3].str() == "weight";
    return kVae + m[1].str() + ".mid.attn_1." + kParts.at(m[2].str()) + "." + m[3].str();
  }
  if (std::regex_match(name, m, kNormOut)) return kVae + m[1].str() + ".norm_out." + m[2].str();
  return kVae + name;  // conv_in, conv_out, quant_conv, post_quant_conv
}

// OpenCLIP text tower names; q/k/v are stacked into in_proj, text_projection is x @ P.
std::map<std::string, torch::Tensor> OpenClipTensors(const CLIPTextModel& model,
                                                     const std::string& prefix) {
  std::map<std::string, torch::Tensor> out;
  std::map<std::string, std::map<std::string, torch::Tensor>> qkv;  // in_proj key -> q/k/v
  static const std::regex kLayer(R"(text_model\.encoder\.layers\.(\d+)\.(.+))");
  static const std::regex kQkv(R"(self_attn\.(q|k|v)_proj\.(weight|bias))");
  static const std::pair<std::string, std::string> kLayerParts[] = {
      {"self_attn.out_proj.", "attn.out_proj."},
      {"layer_norm1.", "ln_1."},
      {"layer_norm2.", "ln_2."},
      {"mlp.fc1.", "mlp.c_fc."},
      {"mlp.fc2.", "mlp.c_proj."}};
  for (const auto& [name, tensor] : StateDict(*model)) {
    std::smatch m;
    if (name == "text_model.embeddings.token_embedding.weight") {
      out[prefix + "token_embedding.weight"] = tensor.clone();
    } else if (name == "text_model.embeddings.position_embedding.weight") {
      out[prefix + "positional_embedding"] = tensor.clone();
    } else if (name.rfind("text_model.final_layer_norm.", 0) == 0) {
      out[prefix + "ln_final." + name.substr(28)] = tensor.clone();
    } else if (name == "text_projection.weight") {
      out[prefix + "text_projection"] = tensor.t().contiguous();
    } else if (std::regex_match(name, m, kLayer)) {
      const std::string block = prefix + "transformer.resblocks." + m[1].str() + ".";
      const std::string rest = m[2].str();
      std::smatch p;
      if (std::regex_match(rest, p, kQkv)) {
        qkv[block + "attn.in_proj_" + p[2].str()][p[1].str()] = tensor;
        continue;
      }
      bool mapped = false;
      for (const auto& [ours, original] : kLayerParts) {
        if (rest.rfind(ours, 0) == 0) {
          out[block + original + rest.substr(ours.size())] = tensor.clone();
          mapped = true;
        }
      }
      EXPECT_TRUE(mapped) << name;
    } else {
      ADD_FAILURE() << "no OpenCLIP name for " << name;
    }
  }
  for (auto& [key, parts] : qkv) out[key] = torch::cat({parts["q"], parts["k"], parts["v"]}, 0);
  return out;
}

// transformers' names already, plus the position_ids buffer real files carry.
std::map<std::string, torch::Tensor> ClipTensors(const CLIPTextModel& model,
                                                 const std::string& prefix) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [name, tensor] : StateDict(*model)) out[prefix + name] = tensor.clone();
  out[prefix + "text_model.embeddings.position_ids"] =
      torch::arange(model->config().max_position_embeddings, torch::kLong).unsqueeze(0);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Small models of each architecture, written in the original names.

void Perturb(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& parameter : module.parameters()) parameter.add_(0.05 * torch::randn_like(parameter));
}

CLIPTextConfig TextConfig(int64_t hidden, int64_t layers, bool open_clip) {
  CLIPTextConfig config;
  config.vocab_size = 514;  // the byte-level test vocabulary: ..., BOS 512, EOS 513
  config.hidden_size = hidden;
  config.intermediate_size = 2 * hidden;
  config.num_hidden_layers = layers;
  config.num_attention_heads = hidden / 64;
  config.hidden_act = open_clip ? "gelu" : "quick_gelu";
  config.bos_token_id = 512;
  config.eos_token_id = 513;
  config.pad_token_id = 513;
  config.projection_dim = hidden;
  return config;
}

AutoencoderKLConfig VaeConfig(std::vector<int64_t> channels, int64_t layers) {
  AutoencoderKLConfig config;
  config.block_out_channels = channels;
  config.down_block_types.assign(channels.size(), "DownEncoderBlock2D");
  config.up_block_types.assign(channels.size(), "UpDecoderBlock2D");
  config.layers_per_block = layers;
  return config;
}

std::map<std::string, torch::Tensor> UNetTensors(const UNet2DConditionModel& unet) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [name, tensor] : StateDict(*unet)) {
    out[OriginalUNetName(name, unet->config())] = tensor.clone();
  }
  return out;
}

std::map<std::string, torch::Tensor> VaeTensors(const AutoencoderKL& vae) {
  std::map<std::string, torch::Tensor> out;
  const int64_t levels = static_cast<int64_t>(vae->config().block_out_channels.size());
  for (const auto& [name, tensor] : StateDict(*vae)) {
    bool conv_kernel = false;
    const std::string original = OriginalVaeName(name, levels, &conv_kernel);
    out[original] = conv_kernel ? tensor.reshape({tensor.size(0), tensor.size(1), 1, 1}).clone()
                                : tensor.clone();
  }
  return out;
}

void Merge(std::map<std::string, torch::Tensor>& into, std::map<std::string, torch::Tensor> part) {
  for (auto& [key, tensor] : part) {
    EXPECT_TRUE(into.emplace(key, std::move(tensor)).second) << "duplicate key " << key;
  }
}

}  // namespace

// SD 1.x: 3 levels of 2 layers, conv projections, 8 heads, a level without attention that keeps
// its channel count (no shortcut), CLIP ViT-L layout.
Original MakeSd1() {
  torch::manual_seed(1);
  Original model{SingleFileArchitecture::kSd1};
  UNet2DConditionConfig unet;
  unet.block_out_channels = {32, 64, 64};
  unet.layers_per_block = 2;
  unet.down_block_types = {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"};
  unet.up_block_types = {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"};
  unet.attention_head_dim = {8};
  unet.cross_attention_dim = 64;
  model.unet = UNet2DConditionModel(unet);
  model.vae = AutoencoderKL(VaeConfig({32, 64, 64}, 2));
  model.text_encoder = CLIPTextModel(TextConfig(64, 2, /*open_clip=*/false));
  Perturb(*model.unet);
  Perturb(*model.vae);
  Perturb(*model.text_encoder);
  Merge(model.file, UNetTensors(model.unet));
  Merge(model.file, VaeTensors(model.vae));
  Merge(model.file, ClipTensors(model.text_encoder, "cond_stage_model.transformer."));
  return model;
}

// SD 2.x: linear projections, head dim 64, OpenCLIP ViT-H layout whose last block (and
// text_projection) the model does not use: the text encoder here has 3 blocks, the converted
// one the first 2.
Original MakeSd2() {
  torch::manual_seed(2);
  Original model{SingleFileArchitecture::kSd2};
  UNet2DConditionConfig unet;
  unet.block_out_channels = {64, 128};
  unet.layers_per_block = 1;
  unet.down_block_types = {"CrossAttnDownBlock2D", "DownBlock2D"};
  unet.up_block_types = {"UpBlock2D", "CrossAttnUpBlock2D"};
  unet.attention_head_dim = {1, 2};
  unet.use_linear_projection = true;
  unet.cross_attention_dim = 128;
  model.unet = UNet2DConditionModel(unet);
  model.vae = AutoencoderKL(VaeConfig({32, 64}, 1));
  CLIPTextConfig text = TextConfig(128, 3, /*open_clip=*/true);
  text.with_projection = true;  // OpenCLIP files carry text_projection; SD 2.x ignores it
  model.text_encoder = CLIPTextModel(text);
  Perturb(*model.unet);
  Perturb(*model.vae);
  Perturb(*model.text_encoder);
  Merge(model.file, UNetTensors(model.unet));
  Merge(model.file, VaeTensors(model.vae));
  Merge(model.file, OpenClipTensors(model.text_encoder, "cond_stage_model.model."));
  return model;
}

// SDXL: levels without attention / depth 1 / depth 2 (mid block depth 2), text_time addition
// embedding, CLIP ViT-L + OpenCLIP bigG with a non-square text projection.
Original MakeSdxl() {
  torch::manual_seed(3);
  Original model{SingleFileArchitecture::kSdxl};
  CLIPTextConfig text_2 = TextConfig(128, 2, /*open_clip=*/true);
  text_2.with_projection = true;
  text_2.projection_dim = 96;
  UNet2DConditionConfig unet;
  unet.block_out_channels = {64, 128, 128};
  unet.layers_per_block = 2;
  unet.down_block_types = {"DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"};
  unet.up_block_types = {"CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"};
  unet.attention_head_dim = {1, 2, 2};
  unet.transformer_layers_per_block = {1, 1, 2};
  unet.use_linear_projection = true;
  unet.cross_attention_dim = 64 + 128;
  unet.addition_embed_type = "text_time";
  unet.addition_time_embed_dim = 8;
  unet.projection_class_embeddings_input_dim = 96 + 6 * 8;
  model.unet = UNet2DConditionModel(unet);
  model.vae = AutoencoderKL(VaeConfig({32, 64}, 1));
  model.text_encoder = CLIPTextModel(TextConfig(64, 2, /*open_clip=*/false));
  model.text_encoder_2 = CLIPTextModel(text_2);
  Perturb(*model.unet);
  Perturb(*model.vae);
  Perturb(*model.text_encoder);
  Perturb(*model.text_encoder_2);
  Merge(model.file, UNetTensors(model.unet));
  Merge(model.file, VaeTensors(model.vae));
  Merge(model.file, ClipTensors(model.text_encoder, "conditioner.embedders.0.transformer."));
  Merge(model.file, OpenClipTensors(model.text_encoder_2, "conditioner.embedders.1.model."));
  return model;
}

}  // namespace easel::models::single_file_test
