#ifndef EASEL_TRAINER_METHODS_LORA_TRAINING_H_
#define EASEL_TRAINER_METHODS_LORA_TRAINING_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "trainer/data/prepared_dataset.h"
#include "trainer/lora/lora.h"
#include "trainer/methods/training_spec.h"
#include "trainer/models/diffusers_model.h"
#include "trainer/sampling/noise_schedule.h"

namespace easel::methods {

struct ProgressEvent {
  int64_t step = 0;  // 1-based, the step just finished
  int64_t total = 0;
  double loss = 0;
  double lr = 0;     // the rate that step used
  double it_s = 0;   // steps per second since training began
  double eta_s = 0;  // seconds left at that rate
};

struct TrainingCallbacks {
  std::function<void(const ProgressEvent&)> on_progress;
  std::function<void(const std::string&)> on_log;
};

// What the UNet is conditioned on, one row per caption.
struct TextConditioning {
  // SD 1.x/2.x: the text encoder's last_hidden_state [N, 77, D]. SDXL: the penultimate hidden
  // states of both encoders, concatenated [N, 77, D1 + D2].
  torch::Tensor hidden_states;
  torch::Tensor text_embeds;  // SDXL: text_encoder_2's projected pooled output [N, P]
  torch::Tensor time_ids;     // SDXL: [N, 6] original size, crop top-left, target size

  TextConditioning Rows(const torch::Tensor& index) const;
  TextConditioning Slice(int64_t begin, int64_t end) const;
  TextConditioning RepeatInterleave(int64_t repeats) const;
  TextConditioning To(torch::Device device, torch::Dtype dtype) const;
  models::UNetAddedConditions Added() const { return {text_embeds, time_ids}; }
};

// The frozen encoders' view of the dataset, computed once before training.
struct EncodedDataset {
  torch::Tensor latents;  // [N, C, h, w]: VAE sample * scaling_factor
  TextConditioning text;
};

struct LoraTrainingResult {
  int64_t steps = 0;
  double final_loss = 0;
  double steps_per_second = 0;          // over the training loop (encoding excluded)
  int64_t peak_device_memory_bytes = 0;  // CUDA caching allocator peak; 0 on the CPU
  lora::LoraInfo info;  // rank, alpha, targets, trigger phrase (base_model left to the caller)
};

// Encodes the dataset's images (resized to `resolution` if it differs; the latent sample
// uses noise from `seed`) and captions on `device`. Results stay on `device`. The captions'
// hidden states come `clip_skip` layers before the usual ones (SD 1.x/2.x: the last layer
// after the final layer norm; SDXL: both encoders' penultimate layer); a clip_skip that leaves
// no layer is InvalidArgument.
absl::StatusOr<EncodedDataset> EncodeDataset(models::DiffusersModel& model,
                                             const data::PreparedDataset& dataset,
                                             int64_t resolution, uint64_t seed,
                                             torch::Device device, int64_t clip_skip = 0);

// Learning rate for 1-based `step`: constant after a linear warmup over `warmup_steps`.
double LearningRateAt(const TrainingSpec& spec, int64_t step);

// Mean squared error of the UNet's prediction against the schedule's target, averaged over
// all rows, for fixed noise and timesteps (no gradients). Rows of `latents`, `text`,
// `timesteps` and `noise` correspond. Runs in the UNet's parameter dtype.
absl::StatusOr<double> MeanDenoisingLoss(models::UNet2DConditionModel& unet,
                                         const sampling::NoiseSchedule& schedule,
                                         const torch::Tensor& latents,
                                         const TextConditioning& text,
                                         const torch::Tensor& timesteps,
                                         const torch::Tensor& noise, int64_t batch_size = 8);

// Trains LoRA adapters on model.unet in place (frozen base, AdamW on the adapters only; with
// spec.mixed_precision the frozen base runs in bf16/fp16 while the adapters and the optimizer
// stay in float32). A non-finite loss stops training with InvalidArgument. The unet is left on
// `device`.
absl::StatusOr<LoraTrainingResult> TrainLora(models::DiffusersModel& model,
                                             const data::PreparedDataset& dataset,
                                             const TrainingSpec& spec,
                                             const TrainingCallbacks& callbacks,
                                             torch::Device device);

}  // namespace easel::methods

#endif  // EASEL_TRAINER_METHODS_LORA_TRAINING_H_
