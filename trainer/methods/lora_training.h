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

// The frozen encoders' view of the dataset, computed once before training.
struct EncodedDataset {
  torch::Tensor latents;        // [N, C, h, w]: VAE sample * scaling_factor
  torch::Tensor hidden_states;  // [N, 77, D]: text encoder last_hidden_state of each caption
};

struct LoraTrainingResult {
  int64_t steps = 0;
  double final_loss = 0;
  lora::LoraInfo info;  // rank, alpha, targets, trigger phrase (base_model left to the caller)
};

// Encodes the dataset's images (resized to `resolution` if it differs; the latent sample
// uses noise from `seed`) and captions on `device`. Results stay on `device`.
absl::StatusOr<EncodedDataset> EncodeDataset(models::DiffusersModel& model,
                                             const data::PreparedDataset& dataset,
                                             int64_t resolution, uint64_t seed,
                                             torch::Device device);

// Learning rate for 1-based `step`: constant after a linear warmup over `warmup_steps`.
double LearningRateAt(const TrainingSpec& spec, int64_t step);

// Mean squared error of the UNet's prediction against the schedule's target, averaged over
// all rows, for fixed noise and timesteps (no gradients). Rows of `latents`, `hidden_states`,
// `timesteps` and `noise` correspond.
absl::StatusOr<double> MeanDenoisingLoss(models::UNet2DConditionModel& unet,
                                         const sampling::NoiseSchedule& schedule,
                                         const torch::Tensor& latents,
                                         const torch::Tensor& hidden_states,
                                         const torch::Tensor& timesteps,
                                         const torch::Tensor& noise, int64_t batch_size = 8);

// Trains LoRA adapters on model.unet in place (frozen base, AdamW on the adapters only).
// A non-finite loss stops training with InvalidArgument. The unet is left on `device`.
absl::StatusOr<LoraTrainingResult> TrainLora(models::DiffusersModel& model,
                                             const data::PreparedDataset& dataset,
                                             const TrainingSpec& spec,
                                             const TrainingCallbacks& callbacks,
                                             torch::Device device);

}  // namespace easel::methods

#endif  // EASEL_TRAINER_METHODS_LORA_TRAINING_H_
