#ifndef EASEL_TRAINER_METHODS_LORA_TRAINING_H_
#define EASEL_TRAINER_METHODS_LORA_TRAINING_H_

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "trainer/data/prepared_dataset.h"
#include "trainer/lora/lora.h"
#include "trainer/methods/dataset_encoding.h"
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
  // After a checkpoint is complete: its directory and step.
  std::function<void(const std::filesystem::path&, int64_t)> on_checkpoint;
};

// Where checkpoints go and where a resumed run starts (docs/checkpoints.md).
struct CheckpointOptions {
  std::filesystem::path dir;     // written every spec.checkpointing_steps steps when set
  std::filesystem::path resume;  // a checkpoint to go on from; empty: from the start
  // Polled after every step: when it turns true, training saves a checkpoint (when `dir` is
  // set) and stops with Cancelled ("at step N of M; checkpoint step-… saved").
  const std::atomic<bool>* stop_requested = nullptr;
};

struct LoraTrainingResult {
  int64_t steps = 0;
  double final_loss = 0;
  double steps_per_second = 0;          // over the training loop (encoding excluded)
  int64_t peak_device_memory_bytes = 0;  // CUDA caching allocator peak; 0 on the CPU
  lora::LoraInfo info;  // rank, alpha, targets, trigger phrase (base_model left to the caller)
};

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
// stay in float32). Batches come from data::BucketBatchOrder over the dataset's buckets (one
// image size per batch). With spec.masked_loss, a batch holding an image with a mask takes
// MaskedMseLoss (the mask at latent size weighs each element; images without one weigh 1);
// otherwise the plain MSE. A non-finite loss stops training with InvalidArgument. The unet is
// left on `device`. With `checkpoints.resume`, training goes on from that checkpoint and ends
// with exactly the weights of a run that never stopped (bit for bit on the CPU).
absl::StatusOr<LoraTrainingResult> TrainLora(models::DiffusersModel& model,
                                             const data::PreparedDataset& dataset,
                                             const TrainingSpec& spec,
                                             const TrainingCallbacks& callbacks,
                                             torch::Device device,
                                             const CheckpointOptions& checkpoints = {});

}  // namespace easel::methods

#endif  // EASEL_TRAINER_METHODS_LORA_TRAINING_H_
