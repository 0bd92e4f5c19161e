#ifndef EASEL_TRAINER_MODELS_CLIP_TEXT_MODEL_H_
#define EASEL_TRAINER_MODELS_CLIP_TEXT_MODEL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "absl/status/statusor.h"

namespace easel::models {

// transformers' CLIPTextConfig (text_encoder/config.json).
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

  static absl::StatusOr<CLIPTextConfig> FromJson(const nlohmann::json& json);
  nlohmann::json ToJson() const;
};

struct CLIPTextOutput {
  torch::Tensor last_hidden_state;  // after final_layer_norm [B,L,hidden]
  torch::Tensor pooler_output;      // last_hidden_state at the first EOS token [B,hidden]
  // Embeddings output, then each layer's output (before final_layer_norm): num_layers + 1.
  std::vector<torch::Tensor> hidden_states;
};

class CLIPTextTransformerImpl;

class CLIPTextModelImpl : public torch::nn::Module {
 public:
  explicit CLIPTextModelImpl(const CLIPTextConfig& config);
  // input_ids [B,L] int64, L <= max_position_embeddings.
  CLIPTextOutput forward(const torch::Tensor& input_ids);
  const CLIPTextConfig& config() const { return config_; }
  // text_model.embeddings.token_embedding (for textual inversion).
  torch::nn::Embedding token_embedding() const;

 private:
  CLIPTextConfig config_;
  std::shared_ptr<CLIPTextTransformerImpl> text_model_;
};
TORCH_MODULE(CLIPTextModel);

}  // namespace easel::models

#endif  // EASEL_TRAINER_MODELS_CLIP_TEXT_MODEL_H_
