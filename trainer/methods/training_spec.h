#ifndef EASEL_TRAINER_METHODS_TRAINING_SPEC_H_
#define EASEL_TRAINER_METHODS_TRAINING_SPEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace easel::methods {

// The job spec a training run is given (JSON, field names as below; defaults as in
// docs/inputs.md, which the coordinator fills in).
struct TrainingSpec {
  std::string method = "lora";
  int64_t max_train_steps = 1000;  // > 0
  double learning_rate = 1e-4;  // > 0
  int64_t lora_rank = 16;       // 1..256
  double lora_alpha = 0;        // > 0; 0 (or absent from the JSON) means lora_rank
  std::vector<std::string> lora_target_modules = {"to_q", "to_k", "to_v", "to_out.0"};
  int64_t train_batch_size = 1;  // >= 1
  int64_t resolution = 0;        // 0: the prepared dataset's; else a multiple of 8 in 8..4096
  uint64_t seed = 0;
  int64_t lr_warmup_steps = 0;  // >= 0
  std::string token_string = "TOK";
  int64_t progress_every = 1;  // >= 1
  // The dtype of the frozen base weights and the forward pass: "no" (float32), "bf16",
  // "fp16", or "auto" (bf16 on CUDA, float32 on the CPU). Adapters and optimizer stay float32.
  std::string mixed_precision = "auto";
  // Key names of the LoRA file: "diffusers" (diffusers/peft) or "kohya" (AUTOMATIC1111,
  // ComfyUI, kohya sd-scripts).
  std::string lora_format = "diffusers";
  // Condition on the text encoder's hidden states this many layers before the usual ones
  // (>= 0; the base model bounds it, see EncodeDataset).
  int64_t clip_skip = 0;
  // Weigh the loss by each image's mask (from the dataset's alpha channel) so that
  // transparent background is not learned; images without a mask weigh 1 everywhere.
  bool masked_loss = true;
  // Save a checkpoint every this many steps (>= 0; 0: none) into the trainer's checkpoint
  // directory (docs/checkpoints.md).
  int64_t checkpointing_steps = 0;
  std::vector<std::string> unknown_fields;  // present in the JSON but not used

  // token_string split on whitespace and commas.
  std::vector<std::string> TriggerTokens() const;
};

inline constexpr int64_t kMaxLoraRank = 256;

// Validates types and ranges; an error is InvalidArgument naming the field.
absl::StatusOr<TrainingSpec> ParseTrainingSpec(const nlohmann::json& json);

}  // namespace easel::methods

#endif  // EASEL_TRAINER_METHODS_TRAINING_SPEC_H_
