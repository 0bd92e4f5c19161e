#include "trainer/models/unet_2d_condition.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "trainer/models/json_fields.h"

namespace easel::models {
namespace {

constexpr std::string_view kWhat = "unet config.json";

absl::Status Bad(std::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("unet config.json: ", std::string(message)));
}

UNetBlockOptions BaseOptions(const UNet2DConditionConfig& config) {
  return UNetBlockOptions{.num_layers = config.layers_per_block,
                          .in_channels = 0,
                          .out_channels = 0,
                          .temb_channels = config.block_out_channels[0] * 4,
                          .add_sample_change = false,
                          .eps = config.norm_eps,
                          .groups = config.norm_num_groups,
                          .cross_attention_dim = config.cross_attention_dim,
                          .num_attention_heads = 1,
                          .downsample_padding = config.downsample_padding,
                          .use_linear_projection = config.use_linear_projection,
                          .only_cross_attention = config.only_cross_attention};
}

void ThrowIfError(const absl::Status& status) {
  TORCH_CHECK(status.ok(), std::string(status.message()));
}

}  // namespace

std::vector<int64_t> UNet2DConditionConfig::HeadsPerBlock() const {
  const std::vector<int64_t>& heads =
      num_attention_heads.empty() ? attention_head_dim : num_attention_heads;
  if (heads.size() == 1 && down_block_types.size() > 1) {
    return std::vector<int64_t>(down_block_types.size(), heads[0]);
  }
  return heads;
}

std::vector<int64_t> UNet2DConditionConfig::TransformerLayersPerBlock() const {
  if (transformer_layers_per_block.size() == 1 && down_block_types.size() > 1) {
    return std::vector<int64_t>(down_block_types.size(), transformer_layers_per_block[0]);
  }
  return transformer_layers_per_block;
}

absl::Status UNet2DConditionConfig::Validate() const {
  const size_t n = down_block_types.size();
  if (n == 0) return Bad("down_block_types is empty");
  if (block_out_channels.size() != n) {
    return Bad(absl::StrCat("block_out_channels has ", block_out_channels.size(),
                            " entries but down_block_types has ", n));
  }
  if (up_block_types.size() != n) {
    return Bad(absl::StrCat("up_block_types has ", up_block_types.size(),
                            " entries but down_block_types has ", n));
  }
  std::vector<int64_t> heads = HeadsPerBlock();
  if (heads.size() != n) {
    return Bad(absl::StrCat("attention_head_dim/num_attention_heads has ", heads.size(),
                            " entries but down_block_types has ", n));
  }
  std::vector<int64_t> depths = TransformerLayersPerBlock();
  if (depths.size() != n) {
    return Bad(absl::StrCat("transformer_layers_per_block has ", depths.size(),
                            " entries but down_block_types has ", n));
  }
  for (size_t i = 0; i < n; ++i) {
    if (depths[i] < 1) {
      return Bad(absl::StrCat("transformer_layers_per_block[", i, "] must be >= 1"));
    }
  }
  if (!addition_embed_type.empty()) {
    if (addition_embed_type != "text_time") {
      return Bad(absl::StrCat("unsupported addition_embed_type \"", addition_embed_type,
                              "\" (supported: text_time)"));
    }
    if (addition_time_embed_dim < 1 || projection_class_embeddings_input_dim < 1) {
      return Bad(
          "addition_embed_type text_time needs addition_time_embed_dim and "
          "projection_class_embeddings_input_dim");
    }
  }
  if (layers_per_block < 1) return Bad("layers_per_block must be >= 1");
  if (norm_num_groups < 1) return Bad("norm_num_groups must be >= 1");
  for (size_t i = 0; i < n; ++i) {
    if (block_out_channels[i] <= 0 || block_out_channels[i] % norm_num_groups != 0) {
      return Bad(absl::StrCat("block_out_channels[", i, "] = ", block_out_channels[i],
                              " is not a positive multiple of norm_num_groups ",
                              norm_num_groups));
    }
    if (heads[i] <= 0 || block_out_channels[i] % heads[i] != 0) {
      return Bad(absl::StrCat("block_out_channels[", i, "] = ", block_out_channels[i],
                              " is not divisible by the head count ", heads[i]));
    }
  }
  std::vector<std::string> unknown;
  for (const auto& type : down_block_types) {
    if (type != "CrossAttnDownBlock2D" && type != "DownBlock2D") unknown.push_back(type);
  }
  for (const auto& type : up_block_types) {
    if (type != "CrossAttnUpBlock2D" && type != "UpBlock2D") unknown.push_back(type);
  }
  if (mid_block_type != "UNetMidBlock2DCrossAttn") unknown.push_back(mid_block_type);
  if (!unknown.empty()) {
    return Bad(absl::StrCat("unsupported block types: ", absl::StrJoin(unknown, ", ")));
  }
  if (act_fn != "silu") return Bad(absl::StrCat("unsupported act_fn \"", act_fn, "\""));
  if (resnet_time_scale_shift != "default") {
    return Bad(absl::StrCat("unsupported resnet_time_scale_shift \"", resnet_time_scale_shift,
                            "\""));
  }
  if (in_channels < 1 || out_channels < 1 || cross_attention_dim < 1) {
    return Bad("in_channels, out_channels and cross_attention_dim must be positive");
  }
  return absl::OkStatus();
}

absl::StatusOr<UNet2DConditionConfig> UNet2DConditionConfig::FromJson(const nlohmann::json& json) {
  if (!json.is_object()) return Bad("not a JSON object");
  UNet2DConditionConfig c;
  EASEL_RETURN_IF_ERROR(ReadField(json, "sample_size", kWhat, &c.sample_size));
  EASEL_RETURN_IF_ERROR(ReadField(json, "in_channels", kWhat, &c.in_channels));
  EASEL_RETURN_IF_ERROR(ReadField(json, "out_channels", kWhat, &c.out_channels));
  EASEL_RETURN_IF_ERROR(ReadField(json, "center_input_sample", kWhat, &c.center_input_sample));
  EASEL_RETURN_IF_ERROR(ReadField(json, "flip_sin_to_cos", kWhat, &c.flip_sin_to_cos));
  EASEL_RETURN_IF_ERROR(ReadField(json, "freq_shift", kWhat, &c.freq_shift));
  EASEL_RETURN_IF_ERROR(ReadField(json, "down_block_types", kWhat, &c.down_block_types));
  EASEL_RETURN_IF_ERROR(ReadField(json, "mid_block_type", kWhat, &c.mid_block_type));
  EASEL_RETURN_IF_ERROR(ReadField(json, "up_block_types", kWhat, &c.up_block_types));
  EASEL_RETURN_IF_ERROR(ReadField(json, "block_out_channels", kWhat, &c.block_out_channels));
  EASEL_RETURN_IF_ERROR(ReadField(json, "layers_per_block", kWhat, &c.layers_per_block));
  EASEL_RETURN_IF_ERROR(ReadField(json, "downsample_padding", kWhat, &c.downsample_padding));
  EASEL_RETURN_IF_ERROR(
      ReadField(json, "mid_block_scale_factor", kWhat, &c.mid_block_scale_factor));
  EASEL_RETURN_IF_ERROR(ReadField(json, "act_fn", kWhat, &c.act_fn));
  EASEL_RETURN_IF_ERROR(ReadField(json, "norm_num_groups", kWhat, &c.norm_num_groups));
  EASEL_RETURN_IF_ERROR(ReadField(json, "norm_eps", kWhat, &c.norm_eps));
  EASEL_RETURN_IF_ERROR(ReadField(json, "use_linear_projection", kWhat, &c.use_linear_projection));
  EASEL_RETURN_IF_ERROR(ReadField(json, "upcast_attention", kWhat, &c.upcast_attention));
  EASEL_RETURN_IF_ERROR(
      ReadField(json, "resnet_time_scale_shift", kWhat, &c.resnet_time_scale_shift));
  if (auto it = json.find("only_cross_attention"); it != json.end() && !it->is_null()) {
    if (!it->is_boolean()) return Bad("only_cross_attention per block is not supported");
    c.only_cross_attention = it->get<bool>();
  }
  if (auto it = json.find("cross_attention_dim"); it != json.end() && !it->is_null()) {
    if (!it->is_number_integer()) return Bad("cross_attention_dim must be one integer");
    c.cross_attention_dim = it->get<int64_t>();
  }
  for (const char* key : {"attention_head_dim", "num_attention_heads"}) {
    auto it = json.find(key);
    if (it == json.end() || it->is_null()) continue;
    std::vector<int64_t> values;
    if (it->is_number_integer()) {
      values = {it->get<int64_t>()};
    } else {
      EASEL_RETURN_IF_ERROR(ReadField(json, key, kWhat, &values));
    }
    (std::string(key) == "attention_head_dim" ? c.attention_head_dim : c.num_attention_heads) =
        values;
  }
  if (auto it = json.find("transformer_layers_per_block"); it != json.end() && !it->is_null()) {
    if (it->is_number_integer()) {
      c.transformer_layers_per_block = {it->get<int64_t>()};
    } else {
      EASEL_RETURN_IF_ERROR(ReadField(json, "transformer_layers_per_block", kWhat,
                                      &c.transformer_layers_per_block));
    }
  }
  if (auto it = json.find("addition_embed_type"); it != json.end() && !it->is_null()) {
    EASEL_RETURN_IF_ERROR(ReadField(json, "addition_embed_type", kWhat, &c.addition_embed_type));
    EASEL_RETURN_IF_ERROR(
        ReadField(json, "addition_time_embed_dim", kWhat, &c.addition_time_embed_dim));
    EASEL_RETURN_IF_ERROR(ReadField(json, "projection_class_embeddings_input_dim", kWhat,
                                    &c.projection_class_embeddings_input_dim));
  }
  for (const char* key : {"class_embed_type", "encoder_hid_dim", "time_cond_proj_dim",
                          "reverse_transformer_layers_per_block", "num_class_embeds",
                          "timestep_post_act"}) {
    auto it = json.find(key);
    if (it != json.end() && !it->is_null()) {
      return Bad(absl::StrCat("field \"", key, "\" is not supported yet"));
    }
  }
  // Options diffusers writes into every config that we only support at their defaults.
  const std::pair<const char*, nlohmann::json> kDefaultsOnly[] = {
      {"conv_in_kernel", 3},           {"conv_out_kernel", 3},
      {"dual_cross_attention", false}, {"attention_type", "default"},
      {"resnet_skip_time_act", false}, {"resnet_out_scale_factor", 1.0},
      {"class_embeddings_concat", false}, {"time_embedding_dim", nullptr},
      {"cross_attention_norm", nullptr}, {"encoder_hid_dim_type", nullptr},
      {"time_embedding_act_fn", nullptr}};
  for (const auto& [key, expected] : kDefaultsOnly) {
    auto it = json.find(key);
    if (it != json.end() && !it->is_null() && *it != expected) {
      return Bad(absl::StrCat("field \"", key, "\" = ", it->dump(), " is not supported (only ",
                              expected.dump(), ")"));
    }
  }
  if (auto it = json.find("time_embedding_type");
      it != json.end() && !it->is_null() && *it != "positional") {
    return Bad(absl::StrCat("unsupported time_embedding_type ", it->dump()));
  }
  EASEL_RETURN_IF_ERROR(c.Validate());
  return c;
}

nlohmann::json UNet2DConditionConfig::ToJson() const {
  nlohmann::json json = {
      {"_class_name", "UNet2DConditionModel"},
      {"_diffusers_version", "0.21.4"},
      {"sample_size", sample_size},
      {"in_channels", in_channels},
      {"out_channels", out_channels},
      {"center_input_sample", center_input_sample},
      {"flip_sin_to_cos", flip_sin_to_cos},
      {"freq_shift", freq_shift},
      {"down_block_types", down_block_types},
      {"mid_block_type", mid_block_type},
      {"up_block_types", up_block_types},
      {"block_out_channels", block_out_channels},
      {"layers_per_block", layers_per_block},
      {"downsample_padding", downsample_padding},
      {"mid_block_scale_factor", mid_block_scale_factor},
      {"act_fn", act_fn},
      {"norm_num_groups", norm_num_groups},
      {"norm_eps", norm_eps},
      {"cross_attention_dim", cross_attention_dim},
      {"use_linear_projection", use_linear_projection},
      {"upcast_attention", upcast_attention},
      {"only_cross_attention", only_cross_attention},
      {"resnet_time_scale_shift", resnet_time_scale_shift},
  };
  json["attention_head_dim"] = attention_head_dim.size() == 1 ? nlohmann::json(attention_head_dim[0])
                                                              : nlohmann::json(attention_head_dim);
  json["num_attention_heads"] = num_attention_heads.empty() ? nlohmann::json(nullptr)
                                                            : nlohmann::json(num_attention_heads);
  json["transformer_layers_per_block"] = transformer_layers_per_block.size() == 1
                                             ? nlohmann::json(transformer_layers_per_block[0])
                                             : nlohmann::json(transformer_layers_per_block);
  if (!addition_embed_type.empty()) {
    json["addition_embed_type"] = addition_embed_type;
    json["addition_time_embed_dim"] = addition_time_embed_dim;
    json["projection_class_embeddings_input_dim"] = projection_class_embeddings_input_dim;
  }
  return json;
}

UNet2DConditionModelImpl::UNet2DConditionModelImpl(const UNet2DConditionConfig& config)
    : config_(config) {
  ThrowIfError(config.Validate());
  const auto& channels = config.block_out_channels;
  const int64_t n = static_cast<int64_t>(channels.size());
  const int64_t time_embed_dim = channels[0] * 4;
  const std::vector<int64_t> heads = config.HeadsPerBlock();
  const std::vector<int64_t> depths = config.TransformerLayersPerBlock();

  conv_in_ = register_module("conv_in", LoraCompatibleConv2d(config.in_channels, channels[0], 3,
                                                             /*stride=*/1, /*padding=*/1));
  time_proj_ = register_module(
      "time_proj", Timesteps(channels[0], config.flip_sin_to_cos, static_cast<double>(config.freq_shift)));
  time_embedding_ = register_module("time_embedding", TimestepEmbedding(channels[0], time_embed_dim));
  if (config.addition_embed_type == "text_time") {
    add_time_proj_ = register_module(
        "add_time_proj", Timesteps(config.addition_time_embed_dim, config.flip_sin_to_cos,
                                   static_cast<double>(config.freq_shift)));
    add_embedding_ = register_module(
        "add_embedding",
        TimestepEmbedding(config.projection_class_embeddings_input_dim, time_embed_dim));
  }

  torch::nn::ModuleList down_blocks;
  int64_t output_channel = channels[0];
  for (int64_t i = 0; i < n; ++i) {
    UNetBlockOptions options = BaseOptions(config);
    options.in_channels = output_channel;
    output_channel = channels[i];
    options.out_channels = output_channel;
    options.add_sample_change = i != n - 1;
    options.num_attention_heads = heads[i];
    options.transformer_layers = depths[i];
    auto block = MakeDownBlock(config.down_block_types[i], options);
    ThrowIfError(block.status());
    down_blocks_.push_back(*block);
    down_blocks->push_back(*block);
  }
  register_module("down_blocks", down_blocks);

  UNetBlockOptions mid = BaseOptions(config);
  mid.num_layers = 1;
  mid.in_channels = mid.out_channels = channels[n - 1];
  mid.num_attention_heads = heads[n - 1];
  mid.transformer_layers = depths[n - 1];
  mid.output_scale_factor = config.mid_block_scale_factor;
  mid_block_ = register_module("mid_block", std::make_shared<UNetMidBlock2DCrossAttnImpl>(mid));

  torch::nn::ModuleList up_blocks;
  output_channel = channels[n - 1];
  for (int64_t i = 0; i < n; ++i) {
    UNetBlockOptions options = BaseOptions(config);
    options.num_layers = config.layers_per_block + 1;
    options.prev_output_channel = output_channel;
    output_channel = channels[n - 1 - i];
    options.out_channels = output_channel;
    options.in_channels = channels[std::max<int64_t>(n - 2 - i, 0)];
    options.add_sample_change = i != n - 1;
    options.num_attention_heads = heads[n - 1 - i];
    options.transformer_layers = depths[n - 1 - i];
    auto block = MakeUpBlock(config.up_block_types[i], options);
    ThrowIfError(block.status());
    up_blocks_.push_back(*block);
    up_blocks->push_back(*block);
  }
  register_module("up_blocks", up_blocks);

  conv_norm_out_ = register_module(
      "conv_norm_out", torch::nn::GroupNorm(torch::nn::GroupNormOptions(config.norm_num_groups, channels[0])
                                                .eps(config.norm_eps)));
  conv_out_ = register_module("conv_out", LoraCompatibleConv2d(channels[0], config.out_channels, 3,
                                                               /*stride=*/1, /*padding=*/1));
}

torch::Tensor UNet2DConditionModelImpl::forward(const torch::Tensor& sample,
                                                const torch::Tensor& timesteps,
                                                const torch::Tensor& encoder_hidden_states,
                                                const UNetAddedConditions& added) {
  TORCH_CHECK(sample.dim() == 4, "UNet sample must be [B,C,H,W], got ", sample.sizes());
  const int64_t batch = sample.size(0);
  torch::Tensor t = timesteps.dim() == 0 ? timesteps.reshape({1}) : timesteps;
  t = t.to(sample.device()).expand({batch});
  torch::Tensor x = config_.center_input_sample ? 2 * sample - 1.0 : sample;
  torch::Tensor emb = time_embedding_(time_proj_(t).to(sample.scalar_type()));
  if (!add_embedding_.is_empty()) {
    TORCH_CHECK(added.text_embeds.defined() && added.time_ids.defined(),
                "this UNet (addition_embed_type text_time) needs text_embeds and time_ids");
    torch::Tensor time_embeds = add_time_proj_(added.time_ids.flatten()).reshape({batch, -1});
    torch::Tensor add_embeds = torch::cat({added.text_embeds, time_embeds.to(added.text_embeds.scalar_type())}, -1);
    emb = emb + add_embedding_(add_embeds.to(emb.scalar_type()));
  }

  x = conv_in_(x);
  std::vector<torch::Tensor> skips = {x};
  for (auto& block : down_blocks_) {
    auto [out, states] = block->Forward(x, emb, encoder_hidden_states);
    x = out;
    skips.insert(skips.end(), states.begin(), states.end());
  }
  x = mid_block_->forward(x, emb, encoder_hidden_states);
  for (size_t i = 0; i < up_blocks_.size(); ++i) {
    const bool is_final = i + 1 == up_blocks_.size();
    const int64_t count = up_blocks_[i]->num_resnets();
    std::vector<torch::Tensor> block_skips(skips.end() - count, skips.end());
    skips.resize(skips.size() - count);
    std::optional<std::vector<int64_t>> upsample_size;
    if (!is_final) {
      upsample_size = std::vector<int64_t>{skips.back().size(2), skips.back().size(3)};
    }
    x = up_blocks_[i]->Forward(x, std::move(block_skips), emb, encoder_hidden_states,
                               upsample_size);
  }
  x = torch::silu(conv_norm_out_(x));
  return conv_out_(x);
}

}  // namespace easel::models
