#include "trainer/models/clip_text_model.h"

#include <algorithm>
#include <cmath>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "trainer/models/attention.h"
#include "trainer/models/json_fields.h"
#include "trainer/models/lora_compatible_linear.h"
#include "trainer/models/torch_compat.h"

namespace easel::models {
namespace {

constexpr std::string_view kWhat = "text_encoder config.json";

class CLIPTextEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit CLIPTextEmbeddingsImpl(const CLIPTextConfig& config) {
    token_embedding = register_module(
        "token_embedding", torch::nn::Embedding(config.vocab_size, config.hidden_size));
    position_embedding = register_module(
        "position_embedding",
        torch::nn::Embedding(config.max_position_embeddings, config.hidden_size));
  }
  torch::Tensor forward(const torch::Tensor& input_ids) {
    const int64_t length = input_ids.size(1);
    torch::Tensor positions = torch::arange(length, input_ids.options().dtype(torch::kLong));
    return token_embedding(input_ids) + position_embedding(positions).unsqueeze(0);
  }
  torch::nn::Embedding token_embedding{nullptr};
  torch::nn::Embedding position_embedding{nullptr};
};
TORCH_MODULE(CLIPTextEmbeddings);

class CLIPAttentionImpl : public torch::nn::Module {
 public:
  explicit CLIPAttentionImpl(const CLIPTextConfig& config)
      : heads_(config.num_attention_heads),
        head_dim_(config.hidden_size / config.num_attention_heads) {
    const int64_t dim = config.hidden_size;
    k_proj_ = register_module("k_proj", LoraCompatibleLinear(dim, dim));
    v_proj_ = register_module("v_proj", LoraCompatibleLinear(dim, dim));
    q_proj_ = register_module("q_proj", LoraCompatibleLinear(dim, dim));
    out_proj_ = register_module("out_proj", LoraCompatibleLinear(dim, dim));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    const int64_t batch = x.size(0), length = x.size(1);
    auto split = [&](const torch::Tensor& t) {
      return t.view({batch, length, heads_, head_dim_}).transpose(1, 2);
    };
    const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim_));
    torch::Tensor out = compat::CausalScaledDotProductAttention(split(q_proj_(x)), split(k_proj_(x)),
                                                                split(v_proj_(x)), scale);
    return out_proj_(out.transpose(1, 2).reshape({batch, length, heads_ * head_dim_}));
  }

 private:
  int64_t heads_;
  int64_t head_dim_;
  LoraCompatibleLinear k_proj_{nullptr}, v_proj_{nullptr}, q_proj_{nullptr}, out_proj_{nullptr};
};
TORCH_MODULE(CLIPAttention);

class CLIPMLPImpl : public torch::nn::Module {
 public:
  explicit CLIPMLPImpl(const CLIPTextConfig& config) : quick_gelu_(config.hidden_act == "quick_gelu") {
    fc1_ = register_module("fc1", LoraCompatibleLinear(config.hidden_size, config.intermediate_size));
    fc2_ = register_module("fc2", LoraCompatibleLinear(config.intermediate_size, config.hidden_size));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor h = fc1_(x);
    h = quick_gelu_ ? h * torch::sigmoid(1.702 * h) : torch::gelu(h);
    return fc2_(h);
  }

 private:
  bool quick_gelu_;
  LoraCompatibleLinear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(CLIPMLP);

class CLIPEncoderLayerImpl : public torch::nn::Module {
 public:
  explicit CLIPEncoderLayerImpl(const CLIPTextConfig& config) {
    auto norm = [&] {
      return torch::nn::LayerNorm(
          torch::nn::LayerNormOptions({config.hidden_size}).eps(config.layer_norm_eps));
    };
    self_attn_ = register_module("self_attn", CLIPAttention(config));
    layer_norm1_ = register_module("layer_norm1", norm());
    mlp_ = register_module("mlp", CLIPMLP(config));
    layer_norm2_ = register_module("layer_norm2", norm());
  }
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor h = x + self_attn_(layer_norm1_(x));
    return h + mlp_(layer_norm2_(h));
  }

 private:
  CLIPAttention self_attn_{nullptr};
  torch::nn::LayerNorm layer_norm1_{nullptr};
  CLIPMLP mlp_{nullptr};
  torch::nn::LayerNorm layer_norm2_{nullptr};
};
TORCH_MODULE(CLIPEncoderLayer);

}  // namespace

class CLIPTextTransformerImpl : public torch::nn::Module {
 public:
  explicit CLIPTextTransformerImpl(const CLIPTextConfig& config) : eos_token_id_(config.eos_token_id) {
    embeddings = register_module("embeddings", CLIPTextEmbeddings(config));
    auto encoder = std::make_shared<torch::nn::Module>("CLIPEncoder");
    torch::nn::ModuleList layers;
    for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
      layers_.push_back(CLIPEncoderLayer(config));
      layers->push_back(layers_.back());
    }
    encoder->register_module("layers", layers);
    register_module("encoder", encoder);
    final_layer_norm = register_module(
        "final_layer_norm",
        torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.hidden_size}).eps(config.layer_norm_eps)));
  }

  CLIPTextOutput forward(const torch::Tensor& input_ids) {
    TORCH_CHECK(input_ids.dim() == 2, "input_ids must be [B,L], got ", input_ids.sizes());
    CLIPTextOutput output;
    torch::Tensor x = embeddings(input_ids);
    output.hidden_states.push_back(x);
    for (auto& layer : layers_) {
      x = layer(x);
      output.hidden_states.push_back(x);
    }
    output.last_hidden_state = final_layer_norm(x);
    torch::Tensor eos_positions = (input_ids == eos_token_id_).to(torch::kInt).argmax(-1);
    torch::Tensor rows = torch::arange(input_ids.size(0), input_ids.options().dtype(torch::kLong));
    output.pooler_output = output.last_hidden_state.index({rows, eos_positions});
    return output;
  }

  CLIPTextEmbeddings embeddings{nullptr};
  torch::nn::LayerNorm final_layer_norm{nullptr};

 private:
  int64_t eos_token_id_;
  std::vector<CLIPEncoderLayer> layers_;
};

absl::StatusOr<CLIPTextConfig> CLIPTextConfig::FromJson(const nlohmann::json& json) {
  if (!json.is_object()) return absl::InvalidArgumentError("text_encoder config.json: not an object");
  CLIPTextConfig c;
  EASEL_RETURN_IF_ERROR(ReadField(json, "vocab_size", kWhat, &c.vocab_size));
  EASEL_RETURN_IF_ERROR(ReadField(json, "hidden_size", kWhat, &c.hidden_size));
  EASEL_RETURN_IF_ERROR(ReadField(json, "intermediate_size", kWhat, &c.intermediate_size));
  EASEL_RETURN_IF_ERROR(ReadField(json, "num_hidden_layers", kWhat, &c.num_hidden_layers));
  EASEL_RETURN_IF_ERROR(ReadField(json, "num_attention_heads", kWhat, &c.num_attention_heads));
  EASEL_RETURN_IF_ERROR(
      ReadField(json, "max_position_embeddings", kWhat, &c.max_position_embeddings));
  EASEL_RETURN_IF_ERROR(ReadField(json, "hidden_act", kWhat, &c.hidden_act));
  EASEL_RETURN_IF_ERROR(ReadField(json, "layer_norm_eps", kWhat, &c.layer_norm_eps));
  EASEL_RETURN_IF_ERROR(ReadField(json, "bos_token_id", kWhat, &c.bos_token_id));
  EASEL_RETURN_IF_ERROR(ReadField(json, "eos_token_id", kWhat, &c.eos_token_id));
  EASEL_RETURN_IF_ERROR(ReadField(json, "pad_token_id", kWhat, &c.pad_token_id));
  EASEL_RETURN_IF_ERROR(ReadField(json, "projection_dim", kWhat, &c.projection_dim));
  constexpr int64_t kClipVocabSize = 49408, kLegacyEos = 2, kClipEndOfText = 49407;
  if (c.eos_token_id == kLegacyEos && c.vocab_size == kClipVocabSize) {
    c.eos_token_id = kClipEndOfText;
  }
  if (auto it = json.find("architectures"); it != json.end() && it->is_array()) {
    for (const auto& name : *it) {
      if (name == "CLIPTextModelWithProjection") c.with_projection = true;
    }
  }
  if (c.hidden_act != "quick_gelu" && c.hidden_act != "gelu") {
    return absl::InvalidArgumentError(absl::StrCat(
        "text_encoder config.json: unsupported hidden_act \"", c.hidden_act, "\" (quick_gelu, gelu)"));
  }
  if (c.hidden_size <= 0 || c.num_attention_heads <= 0 || c.hidden_size % c.num_attention_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "text_encoder config.json: hidden_size ", c.hidden_size,
        " is not a positive multiple of num_attention_heads ", c.num_attention_heads));
  }
  if (c.vocab_size <= 0 || c.max_position_embeddings <= 0 || c.num_hidden_layers < 0 ||
      c.intermediate_size <= 0) {
    return absl::InvalidArgumentError(
        "text_encoder config.json: vocab_size, max_position_embeddings, intermediate_size must be "
        "positive");
  }
  return c;
}

nlohmann::json CLIPTextConfig::ToJson() const {
  return {{"architectures",
           {with_projection ? "CLIPTextModelWithProjection" : "CLIPTextModel"}},
          {"model_type", "clip_text_model"},
          {"vocab_size", vocab_size},
          {"hidden_size", hidden_size},
          {"intermediate_size", intermediate_size},
          {"num_hidden_layers", num_hidden_layers},
          {"num_attention_heads", num_attention_heads},
          {"max_position_embeddings", max_position_embeddings},
          {"hidden_act", hidden_act},
          {"layer_norm_eps", layer_norm_eps},
          {"bos_token_id", bos_token_id},
          {"eos_token_id", eos_token_id},
          {"pad_token_id", pad_token_id},
          {"projection_dim", projection_dim},
          {"torch_dtype", "float32"}};
}

CLIPTextModelImpl::CLIPTextModelImpl(const CLIPTextConfig& config) : config_(config) {
  text_model_ = register_module("text_model", std::make_shared<CLIPTextTransformerImpl>(config));
  if (config.with_projection) {
    text_projection_ = register_module(
        "text_projection",
        torch::nn::Linear(
            torch::nn::LinearOptions(config.hidden_size, config.projection_dim).bias(false)));
  }
}

CLIPTextOutput CLIPTextModelImpl::forward(const torch::Tensor& input_ids) {
  TORCH_CHECK(input_ids.dim() == 2 && input_ids.size(1) <= config_.max_position_embeddings,
              "input_ids must be [B,L] with L <= ", config_.max_position_embeddings, ", got ",
              input_ids.sizes());
  CLIPTextOutput output = text_model_->forward(input_ids);
  if (!text_projection_.is_empty()) output.text_embeds = text_projection_(output.pooler_output);
  return output;
}

torch::nn::LayerNorm CLIPTextModelImpl::final_layer_norm() const {
  return text_model_->final_layer_norm;
}

torch::nn::Embedding CLIPTextModelImpl::token_embedding() const {
  return text_model_->embeddings->token_embedding;
}

absl::Status CLIPTextModelImpl::ResizeTokenEmbeddings(int64_t new_vocab_size,
                                                     std::optional<int64_t> initializer_id) {
  torch::nn::Embedding embedding = token_embedding();
  const int64_t old_size = embedding->weight.size(0);
  const int64_t highest_special =
      std::max({config_.bos_token_id, config_.eos_token_id, config_.pad_token_id});
  if (new_vocab_size <= highest_special) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot resize the text encoder's token embeddings to ", new_vocab_size,
        " rows: the BOS/EOS/pad ids need at least ", highest_special + 1));
  }
  if (initializer_id && (*initializer_id < 0 || *initializer_id >= old_size)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "initializer token id ", *initializer_id, " is not a row of the text encoder's ",
        old_size, "-row token embeddings"));
  }
  try {
    torch::NoGradGuard no_grad;
    const torch::Tensor old_weight = embedding->weight.detach();
    torch::Tensor weight = torch::empty({new_vocab_size, old_weight.size(1)}, old_weight.options());
    const int64_t kept = std::min(old_size, new_vocab_size);
    weight.slice(0, 0, kept).copy_(old_weight.slice(0, 0, kept));
    if (new_vocab_size > old_size) {
      const torch::Tensor init = initializer_id ? old_weight[*initializer_id]
                                                : old_weight.to(torch::kFloat32).mean(0);
      weight.slice(0, old_size).copy_(init.unsqueeze(0).expand({new_vocab_size - old_size, -1}));
    }
    embedding->weight.set_data(weight);
    embedding->weight.mutable_grad() = torch::Tensor();
    embedding->options.num_embeddings(new_vocab_size);
    config_.vocab_size = new_vocab_size;
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("resizing the text encoder's token embeddings: ", e.what()));
  }
  return absl::OkStatus();
}

void AddTextModelPrefix(std::map<std::string, torch::Tensor>& tensors) {
  constexpr std::string_view kPrefix = "text_model.";
  for (const auto& [name, tensor] : tensors) {
    if (name.rfind(kPrefix, 0) == 0) return;
  }
  std::map<std::string, torch::Tensor> prefixed;
  for (auto& [name, tensor] : tensors) {
    const bool outside_text_model = name.rfind("text_projection.", 0) == 0;
    prefixed.emplace(outside_text_model ? name : std::string(kPrefix) + name, tensor);
  }
  tensors = std::move(prefixed);
}

}  // namespace easel::models
