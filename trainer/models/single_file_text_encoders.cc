// The text encoders of a single-file checkpoint in transformers' CLIPTextModel names:
//   OpenAI CLIP ViT-L (SD 1.x cond_stage_model.transformer., SDXL conditioner.embedders.0.
//     transformer.) is stored in transformers names already;
//   OpenCLIP ViT-H (SD 2.x cond_stage_model.model.) and ViT-bigG (SDXL conditioner.embedders.1.
//     model.) use OpenCLIP's names: token_embedding, positional_embedding,
//     transformer.resblocks.N.{ln_1, attn.in_proj_weight/bias (q, k, v stacked), attn.out_proj,
//     ln_2, mlp.c_fc, mlp.c_proj}, ln_final, text_projection ([hidden, projection], applied as
//     x @ text_projection).

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "trainer/models/single_file_source.h"

namespace easel::models::single_file_internal {
namespace {

constexpr int64_t kHeadDim = 64;  // CLIP ViT-L (12 x 64), OpenCLIP ViT-H (16 x 64), bigG (20 x 64)

absl::Status Invalid(const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat("single-file checkpoint: ", message));
}

// The config fields every CLIP text tower shares, from the token and position embeddings.
absl::StatusOr<CLIPTextConfig> EmbeddingConfig(const torch::Tensor& token_embedding,
                                               const std::string& token_key,
                                               const torch::Tensor& position_embedding) {
  if (token_embedding.dim() != 2 || position_embedding.dim() != 2) {
    return Invalid(absl::StrCat("\"", token_key, "\" and the position embedding must be 2-D"));
  }
  CLIPTextConfig config;
  config.vocab_size = token_embedding.size(0);
  config.hidden_size = token_embedding.size(1);
  config.max_position_embeddings = position_embedding.size(0);
  if (config.hidden_size % kHeadDim != 0) {
    return Invalid(absl::StrCat("text encoder width ", config.hidden_size, " (from \"", token_key,
                                "\") is not a multiple of CLIP's head dim ", kHeadDim));
  }
  config.num_attention_heads = config.hidden_size / kHeadDim;
  // CLIP's vocabulary ends with <|startoftext|>, <|endoftext|>; padding is <|endoftext|>.
  config.bos_token_id = config.vocab_size - 2;
  config.eos_token_id = config.vocab_size - 1;
  config.pad_token_id = config.eos_token_id;
  config.projection_dim = config.hidden_size;
  return config;
}

absl::Status CopyOpenClipLayer(ComponentTensors& text, const std::string& from,
                               const std::string& to, int64_t hidden) {
  EASEL_RETURN_IF_ERROR(text.CopyWeightAndBias(from + "ln_1.", to + "layer_norm1."));
  EASEL_RETURN_IF_ERROR(text.CopyWeightAndBias(from + "ln_2.", to + "layer_norm2."));
  EASEL_RETURN_IF_ERROR(
      text.CopyWeightAndBias(from + "attn.out_proj.", to + "self_attn.out_proj."));
  EASEL_RETURN_IF_ERROR(text.CopyWeightAndBias(from + "mlp.c_fc.", to + "mlp.fc1."));
  EASEL_RETURN_IF_ERROR(text.CopyWeightAndBias(from + "mlp.c_proj.", to + "mlp.fc2."));
  // in_proj stacks the q, k and v projections along the output dimension.
  for (const char* suffix : {"weight", "bias"}) {
    const std::string key = absl::StrCat(from, "attn.in_proj_", suffix);
    EASEL_ASSIGN_OR_RETURN(torch::Tensor stacked,
                           text.Take(key, absl::StrCat(to, "self_attn.{q,k,v}_proj.", suffix)));
    if (stacked.dim() < 1 || stacked.size(0) != 3 * hidden) {
      return Invalid(absl::StrCat("\"", key, "\" has shape ", c10::str(stacked.sizes()),
                                  "; expected ", 3 * hidden, " rows (q, k, v of width ", hidden,
                                  ")"));
    }
    auto parts = stacked.chunk(3, 0);
    text.Put(absl::StrCat(to, "self_attn.q_proj.", suffix), parts[0]);
    text.Put(absl::StrCat(to, "self_attn.k_proj.", suffix), parts[1]);
    text.Put(absl::StrCat(to, "self_attn.v_proj.", suffix), parts[2]);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Converted<CLIPTextConfig>> ConvertClipTextEncoder(CheckpointTensors& source,
                                                                 const std::string& prefix) {
  ComponentTensors text(source, "text_encoder");
  // Files made with old transformers versions lack the "text_model." level.
  const std::string from =
      !source.HasPrefix(prefix + "text_model.") && source.HasPrefix(prefix + "embeddings.")
          ? prefix
          : prefix + "text_model.";
  const std::string token_key = from + "embeddings.token_embedding.weight";
  EASEL_ASSIGN_OR_RETURN(torch::Tensor token_embedding, text.Peek(token_key));
  EASEL_ASSIGN_OR_RETURN(torch::Tensor position_embedding,
                         text.Peek(from + "embeddings.position_embedding.weight"));
  EASEL_ASSIGN_OR_RETURN(CLIPTextConfig config,
                         EmbeddingConfig(token_embedding, token_key, position_embedding));
  config.num_hidden_layers = source.CountIndexed(from + "encoder.layers.");
  EASEL_ASSIGN_OR_RETURN(torch::Tensor fc1, text.Peek(from + "encoder.layers.0.mlp.fc1.weight"));
  config.intermediate_size = fc1.size(0);
  config.hidden_act = "quick_gelu";
  EASEL_RETURN_IF_ERROR(ValidateInferred(config, "text_encoder"));

  const std::string to = "text_model.";
  for (const char* name :
       {"embeddings.token_embedding.weight", "embeddings.position_embedding.weight"}) {
    EASEL_RETURN_IF_ERROR(text.Copy(from + name, to + name));
  }
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    const std::string layer = absl::StrCat("encoder.layers.", i, ".");
    for (const char* part :
         {"self_attn.q_proj.", "self_attn.k_proj.", "self_attn.v_proj.", "self_attn.out_proj.",
          "layer_norm1.", "layer_norm2.", "mlp.fc1.", "mlp.fc2."}) {
      EASEL_RETURN_IF_ERROR(text.CopyWeightAndBias(from + layer + part, to + layer + part));
    }
  }
  EASEL_RETURN_IF_ERROR(
      text.CopyWeightAndBias(from + "final_layer_norm.", to + "final_layer_norm."));
  return Converted<CLIPTextConfig>{std::move(config), text.Release()};
}

absl::StatusOr<Converted<CLIPTextConfig>> ConvertOpenClipTextEncoder(CheckpointTensors& source,
                                                                     const std::string& prefix,
                                                                     bool penultimate,
                                                                     bool with_projection) {
  ComponentTensors text(source, with_projection ? "text_encoder_2" : "text_encoder");
  const std::string token_key = prefix + "token_embedding.weight";
  EASEL_ASSIGN_OR_RETURN(torch::Tensor token_embedding, text.Peek(token_key));
  EASEL_ASSIGN_OR_RETURN(torch::Tensor position_embedding,
                         text.Peek(prefix + "positional_embedding"));
  EASEL_ASSIGN_OR_RETURN(CLIPTextConfig config,
                         EmbeddingConfig(token_embedding, token_key, position_embedding));
  const int64_t blocks = source.CountIndexed(prefix + "transformer.resblocks.");
  config.num_hidden_layers = penultimate ? blocks - 1 : blocks;
  if (config.num_hidden_layers < 1) {
    return Invalid(absl::StrCat("the text encoder under \"", prefix, "\" has ", blocks,
                                " transformer.resblocks; need at least ", penultimate ? 2 : 1));
  }
  EASEL_ASSIGN_OR_RETURN(torch::Tensor c_fc,
                         text.Peek(prefix + "transformer.resblocks.0.mlp.c_fc.weight"));
  config.intermediate_size = c_fc.size(0);
  config.hidden_act = "gelu";
  config.with_projection = with_projection;
  const std::string projection_key = prefix + "text_projection";
  if (with_projection || source.Has(projection_key)) {
    EASEL_ASSIGN_OR_RETURN(torch::Tensor projection, text.Peek(projection_key));
    if (projection.dim() != 2 || projection.size(0) != config.hidden_size) {
      return Invalid(absl::StrCat("\"", projection_key, "\" has shape ",
                                  c10::str(projection.sizes()), "; expected [", config.hidden_size,
                                  ", projection dim]"));
    }
    config.projection_dim = projection.size(1);
  }
  EASEL_RETURN_IF_ERROR(ValidateInferred(config, text.component()));

  const std::string to = "text_model.";
  EASEL_RETURN_IF_ERROR(text.Copy(token_key, to + "embeddings.token_embedding.weight"));
  EASEL_RETURN_IF_ERROR(
      text.Copy(prefix + "positional_embedding", to + "embeddings.position_embedding.weight"));
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    EASEL_RETURN_IF_ERROR(
        CopyOpenClipLayer(text, absl::StrCat(prefix, "transformer.resblocks.", i, "."),
                          absl::StrCat(to, "encoder.layers.", i, "."), config.hidden_size));
  }
  EASEL_RETURN_IF_ERROR(text.CopyWeightAndBias(prefix + "ln_final.", to + "final_layer_norm."));
  if (with_projection) {
    EASEL_ASSIGN_OR_RETURN(torch::Tensor projection,
                           text.Take(projection_key, "text_projection.weight"));
    // x @ P with P [hidden, projection] is a bias-free Linear with weight P^T.
    text.Put("text_projection.weight", projection.t().contiguous());
  }
  return Converted<CLIPTextConfig>{std::move(config), text.Release()};
}

}  // namespace easel::models::single_file_internal
