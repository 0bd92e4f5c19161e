#ifndef EASEL_TRAINER_MODELS_CLIP_TEXT_MODEL_H_
#define EASEL_TRAINER_MODELS_CLIP_TEXT_MODEL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace easel::models {

// transformers' CLIPTextConfig (text_encoder/config.json). Configs that give eos_token_id 2
// (written before transformers fixed it) are read as the CLIP vocabulary's <|endoftext|>.
struct CLIPTextConfig {
  int64_t vocab_size = 49408;
  int64_t hidden_size = 768;
  int64_t intermediate_size = 3072;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t max_position_embeddings = 77;
  std::string hidden_act = "quick_gelu";  // quick_gelu | gelu
  double layer_norm_eps = 1e-5;
  int64_t bos_token_id = 49406;
  int64_t eos_token_id = 49407;
  int64_t pad_token_id = 1;
  int64_t projection_dim = 768;
  // CLIPTextModelWithProjection (SDXL's second encoder): adds text_projection (no bias).
  bool with_projection = false;

  static absl::StatusOr<CLIPTextConfig> FromJson(const nlohmann::json& json);
  nlohmann::json ToJson() const;
};

struct CLIPTextOutput {
  torch::Tensor last_hidden_state;  // after final_layer_norm [B,L,hidden]
  torch::Tensor pooler_output;      // last_hidden_state at the first EOS token [B,hidden]
  // Embeddings output, then each layer's output (before final_layer_norm): num_layers + 1.
  // SDXL conditions on hidden_states[num_layers - 1] (the penultimate layer's output).
  std::vector<torch::Tensor> hidden_states;
  torch::Tensor text_embeds;  // text_projection(pooler_output); only with_projection
};

class CLIPTextTransformerImpl;

class CLIPTextModelImpl : public torch::nn::Module {
 public:
  explicit CLIPTextModelImpl(const CLIPTextConfig& config);
  // input_ids [B,L] int64, L <= max_position_embeddings.
  CLIPTextOutput forward(const torch::Tensor& input_ids);
  const CLIPTextConfig& config() const { return config_; }
  // text_model.embeddings.token_embedding (for textual inversion: its weight is the parameter
  // to train; see embeddings::TrainableTokenRows for training only some rows).
  torch::nn::Embedding token_embedding() const;
  // transformers' resize_token_embeddings: the token table gets new_vocab_size rows (same dtype
  // and device), keeping rows [0, min(old, new)). Rows past the old size copy row
  // initializer_id (diffusers' textual_inversion.py copies the initializer token's row), or the
  // mean of the old rows when none is given. Updates config().vocab_size. The weight tensor
  // keeps its identity but not its gradient; an optimizer built before must be rebuilt. Pooling
  // finds EOS by id, so ids above EOS are safe. InvalidArgument when new_vocab_size would drop
  // the BOS/EOS/pad rows or initializer_id is not an old row.
  absl::Status ResizeTokenEmbeddings(int64_t new_vocab_size,
                                     std::optional<int64_t> initializer_id = std::nullopt);
  // text_model.final_layer_norm (clip_skip for SD 1.x applies it to an earlier layer).
  torch::nn::LayerNorm final_layer_norm() const;

 private:
  CLIPTextConfig config_;
  std::shared_ptr<CLIPTextTransformerImpl> text_model_;
  torch::nn::Linear text_projection_{nullptr};
};
TORCH_MODULE(CLIPTextModel);

// transformers 5 writes CLIPTextModel weights without the "text_model." prefix that every
// earlier release (and every released checkpoint) has; adds it where it is missing.
void AddTextModelPrefix(std::map<std::string, torch::Tensor>& tensors);

}  // namespace easel::models

#endif  // EASEL_TRAINER_MODELS_CLIP_TEXT_MODEL_H_
