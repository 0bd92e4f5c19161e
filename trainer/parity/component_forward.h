#ifndef EASEL_TRAINER_PARITY_COMPONENT_FORWARD_H_
#define EASEL_TRAINER_PARITY_COMPONENT_FORWARD_H_

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace easel::parity {

// One forward pass of one model component on tensors read from a safetensors file, for
// comparing our models with diffusers / transformers on the same weights and inputs.
//
//   component     inputs                                            outputs
//   unet          sample, timestep, encoder_hidden_states           sample
//                 [text_embeds, time_ids] (SDXL)
//   text_encoder  input_ids (int64)                                 last_hidden_state,
//                                                                   pooler_output,
//                                                                   penultimate_hidden_state,
//                                                                   [text_embeds],
//                                                                   hidden_state_0 (embeddings)
//                                                                   .. hidden_state_N (layer N)
//   vae           pixels, latents                                   latent_mean, latent_logvar,
//                                                                   decoded
//
// Outputs are written as float32.
struct ComponentForwardOptions {
  std::string component;
  std::filesystem::path dir;     // the component's directory (config.json + weights)
  std::filesystem::path inputs;  // safetensors
  std::filesystem::path output;  // safetensors
  std::filesystem::path lora;    // optional LoRA file applied to the unet / text encoder first
  // Optional, unet only: inject a LoRA of this rank (alpha = 2 * rank) with seeded random
  // weights, write it to `save_lora` in `lora_style` ("diffusers" or "kohya") and run with it,
  // so another library can load the file and be compared.
  int64_t random_lora_rank = 0;
  std::filesystem::path save_lora;
  std::string lora_style = "diffusers";
  // The random LoRA's target modules (linear or convolution layers, e.g. to_q, conv1, proj_in);
  // empty: lora::LoraOptions' default (the attention projections).
  std::vector<std::string> lora_targets;
  std::string device = "cpu";    // cpu | cuda
  std::string dtype = "float32";  // float32 | bfloat16 | float16
  std::string attention_backend = "auto";  // compat::SetAttentionBackend
};

absl::Status RunComponentForward(const ComponentForwardOptions& options);

}  // namespace easel::parity

#endif  // EASEL_TRAINER_PARITY_COMPONENT_FORWARD_H_
