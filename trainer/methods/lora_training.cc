#include "trainer/methods/lora_training.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <utility>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "trainer/data/bucket_batch_order.h"
#include "trainer/methods/masked_loss.h"
#include "trainer/methods/training_checkpoint.h"
#include "trainer/models/torch_compat.h"

namespace easel::methods {
namespace {

// Distinct stream derived from the spec's seed (the latent sample uses another).
constexpr uint64_t kTrainNoiseStream = 0x747261696e6e6fULL;
// The adapters' initial values are drawn from torch's default generators, seeded with this.
constexpr uint64_t kLoraInitStream = 0x6c6f7261696e6974ULL;

void Log(const TrainingCallbacks& callbacks, const std::string& message) {
  if (callbacks.on_log) callbacks.on_log(message);
}

// The training sizes when there are several, and what masked loss does.
void LogBuckets(const TrainingCallbacks& callbacks, const data::PreparedDataset& dataset,
                const EncodedDataset& encoded, const TrainingSpec& spec) {
  if (encoded.buckets.size() > 1) {
    std::string sizes;
    for (const EncodedBucket& bucket : encoded.buckets) {
      absl::StrAppend(&sizes, sizes.empty() ? "" : ", ", bucket.width, "x", bucket.height, " (",
                      bucket.images.size(), bucket.images.size() == 1 ? " image)" : " images)");
    }
    Log(callbacks, absl::StrCat("aspect-ratio buckets: ", sizes,
                                "; each batch holds images of one bucket"));
  }
  const int64_t masked = dataset.masked_images();
  if (masked > 0) {
    Log(callbacks, spec.masked_loss
                       ? absl::StrFormat("masked loss: %d of %d images weigh the loss by their "
                                         "mask (transparent background left out)",
                                         masked, dataset.images.size())
                       : absl::StrFormat("masked_loss is off: the masks of %d images are not "
                                         "used",
                                         masked));
  }
}

// What a checkpoint must share with the run that resumes from it for the resume to be exact.
nlohmann::json Fingerprint(const TrainingSpec& spec, torch::Dtype dtype,
                           const EncodedDataset& encoded) {
  nlohmann::json buckets = nlohmann::json::array();
  int64_t images = 0;
  for (const EncodedBucket& bucket : encoded.buckets) {
    buckets.push_back({bucket.width, bucket.height, bucket.images.size()});
    images += static_cast<int64_t>(bucket.images.size());
  }
  return {{"method", spec.method},
          {"seed", spec.seed},
          {"max_train_steps", spec.max_train_steps},
          {"learning_rate", spec.learning_rate},
          {"lr_warmup_steps", spec.lr_warmup_steps},
          {"lora_rank", spec.lora_rank},
          {"lora_alpha", spec.lora_alpha},
          {"lora_target_modules", spec.lora_target_modules},
          {"train_batch_size", spec.train_batch_size},
          {"resolution", spec.resolution},
          {"mixed_precision", std::string(c10::toString(dtype))},
          {"masked_loss", spec.masked_loss},
          {"clip_skip", spec.clip_skip},
          {"images", images},
          {"buckets", buckets}};
}

torch::Dtype ComputeDtype(const TrainingSpec& spec, torch::Device device) {
  if (spec.mixed_precision == "auto") return device.is_cuda() ? torch::kBFloat16 : torch::kFloat32;
  if (spec.mixed_precision == "bf16") return torch::kBFloat16;
  if (spec.mixed_precision == "fp16") return torch::kFloat16;
  return torch::kFloat32;
}

}  // namespace

double LearningRateAt(const TrainingSpec& spec, int64_t step) {
  if (spec.lr_warmup_steps <= 0 || step >= spec.lr_warmup_steps) return spec.learning_rate;
  return spec.learning_rate * static_cast<double>(step) /
         static_cast<double>(spec.lr_warmup_steps);
}

absl::StatusOr<double> MeanDenoisingLoss(models::UNet2DConditionModel& unet,
                                         const sampling::NoiseSchedule& schedule,
                                         const torch::Tensor& latents,
                                         const TextConditioning& text,
                                         const torch::Tensor& timesteps,
                                         const torch::Tensor& noise, int64_t batch_size) {
  const int64_t rows = latents.size(0);
  if (text.hidden_states.size(0) != rows || timesteps.size(0) != rows ||
      noise.sizes() != latents.sizes()) {
    return absl::InvalidArgumentError(
        "MeanDenoisingLoss: latents, hidden_states, timesteps and noise need matching rows");
  }
  try {
    torch::NoGradGuard no_grad;
    const bool was_training = unet->is_training();
    unet->eval();
    const torch::Tensor weight = unet->parameters().front();
    const torch::Device device = weight.device();
    const torch::Dtype dtype = weight.scalar_type();
    double total = 0;
    for (int64_t begin = 0; begin < rows; begin += std::max<int64_t>(batch_size, 1)) {
      const int64_t end = std::min(rows, begin + std::max<int64_t>(batch_size, 1));
      torch::Tensor x0 = latents.slice(0, begin, end).to(device);
      torch::Tensor eps = noise.slice(0, begin, end).to(device);
      torch::Tensor t = timesteps.slice(0, begin, end).to(device, torch::kLong);
      TextConditioning rows_text = text.Slice(begin, end).To(device, dtype);
      torch::Tensor pred = unet->forward(schedule.AddNoise(x0, eps, t).to(dtype), t,
                                         rows_text.hidden_states, rows_text.Added());
      torch::Tensor target = schedule.Target(x0, eps, t);
      total += torch::mse_loss(pred.to(torch::kFloat32), target.to(torch::kFloat32),
                               torch::Reduction::Sum)
                   .item<double>();
    }
    unet->train(was_training);
    return total / static_cast<double>(latents.numel());
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("computing the denoising loss: ", e.what()));
  }
}

absl::StatusOr<LoraTrainingResult> TrainLora(models::DiffusersModel& model,
                                             const data::PreparedDataset& dataset,
                                             const TrainingSpec& spec,
                                             const TrainingCallbacks& callbacks,
                                             torch::Device device,
                                             const CheckpointOptions& checkpoints) {
  if (spec.method != "lora") {
    return absl::InvalidArgumentError(absl::StrCat("TrainLora cannot run method ", spec.method));
  }
  EASEL_ASSIGN_OR_RETURN(sampling::NoiseSchedule schedule,
                         sampling::NoiseSchedule::FromConfig(model.scheduler_config));
  Log(callbacks, absl::StrFormat("encoding %d images and captions", dataset.images.size()));
  EASEL_ASSIGN_OR_RETURN(EncodedDataset encoded,
                         EncodeDataset(model, dataset, spec.resolution, spec.seed, device,
                                       spec.clip_skip));

  const double alpha = spec.lora_alpha > 0 ? spec.lora_alpha : static_cast<double>(spec.lora_rank);
  lora::LoraOptions options{.rank = spec.lora_rank,
                            .alpha = alpha,
                            .target_modules = spec.lora_target_modules};
  const torch::Dtype dtype = ComputeDtype(spec, device);
  try {
    model.unet->to(device, dtype);  // first, so the adapters are created on `device`
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("moving the UNet to ", device.str(), ": ", e.what()));
  }
  torch::manual_seed(spec.seed ^ kLoraInitStream);  // the same seed, the same adapters
  EASEL_ASSIGN_OR_RETURN(std::vector<lora::NamedParameter> trainable,
                         lora::InjectLora({"unet", model.unet.get()}, options));
  LoraTrainingResult result;
  result.info = {.rank = spec.lora_rank,
                 .alpha = alpha,
                 .trigger_phrase = spec.token_string,
                 .target_modules = spec.lora_target_modules};
  result.info.training_parameters = {
      {"learning_rate", absl::StrCat(spec.learning_rate)},
      {"max_train_steps", absl::StrCat(spec.max_train_steps)},
      {"train_batch_size", absl::StrCat(spec.train_batch_size)},
      {"lr_warmup_steps", absl::StrCat(spec.lr_warmup_steps)},
      {"resolution", absl::StrCat(spec.resolution != 0 ? spec.resolution : dataset.resolution)},
      {"seed", absl::StrCat(spec.seed)},
      {"clip_skip", absl::StrCat(spec.clip_skip)},
      {"masked_loss", spec.masked_loss ? "true" : "false"},
      {"mixed_precision", std::string(c10::toString(dtype))},
      {"optimizer", "AdamW(weight_decay=0.01)"}};
  try {
    model.unet->train();
    std::vector<torch::Tensor> parameters;
    int64_t parameter_count = 0;
    for (const auto& p : trainable) {
      parameters.push_back(p.parameter);
      parameter_count += p.parameter.numel();
    }
    Log(callbacks, absl::StrFormat("training %d LoRA tensors (%d parameters), rank %d, on %s, "
                                   "base weights in %s",
                                   trainable.size(), parameter_count, spec.lora_rank,
                                   device.str(), std::string(c10::toString(dtype))));
    LogBuckets(callbacks, dataset, encoded, spec);
    const TextConditioning text = encoded.text.To(device, dtype);
    torch::optim::AdamW optimizer(
        parameters, torch::optim::AdamWOptions(spec.learning_rate).weight_decay(1e-2));

    data::BucketBatchOrder order(encoded.BucketImages(), spec.train_batch_size, spec.seed);
    at::Generator generator = at::detail::createCPUGenerator(spec.seed ^ kTrainNoiseStream);
    const int64_t total = spec.max_train_steps;
    const nlohmann::json fingerprint = Fingerprint(spec, dtype, encoded);
    int64_t first_step = 1;
    if (!checkpoints.resume.empty()) {
      EASEL_ASSIGN_OR_RETURN(TrainingState resumed,
                             LoadCheckpoint(checkpoints.resume, fingerprint, trainable, optimizer,
                                            generator));
      order.Skip(resumed.data_order_position);
      first_step = resumed.step + 1;
      result.steps = resumed.step;
      result.final_loss = resumed.loss;
      Log(callbacks, absl::StrFormat("resuming from checkpoint %s (step %d of %d)",
                                     checkpoints.resume.filename().string(), resumed.step,
                                     total));
    }
    auto save = [&](int64_t step, double loss) -> absl::StatusOr<std::filesystem::path> {
      TrainingState state{.step = step,
                          .total = total,
                          .data_order_position = order.position(),
                          .loss = loss,
                          .fingerprint = fingerprint};
      EASEL_ASSIGN_OR_RETURN(std::filesystem::path path,
                             SaveCheckpoint(checkpoints.dir, state, trainable, optimizer,
                                            generator));
      if (callbacks.on_checkpoint) callbacks.on_checkpoint(path, step);
      return path;
    };
    const bool checkpointing = spec.checkpointing_steps > 0 && !checkpoints.dir.empty();
    const auto start = std::chrono::steady_clock::now();
    for (int64_t step = first_step; step <= total; ++step) {
      const double lr = LearningRateAt(spec, step);
      for (auto& group : optimizer.param_groups()) {
        static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
      }
      EASEL_ASSIGN_OR_RETURN(TrainingBatch batch, encoded.Batch(order.NextBatch(), text));
      const torch::Tensor& x0 = batch.latents;
      torch::Tensor noise = torch::randn(x0.sizes(), generator, torch::kFloat32).to(device);
      torch::Tensor t = torch::randint(0, schedule.num_train_timesteps(), {x0.size(0)}, generator,
                                       torch::kLong)
                            .to(device);

      optimizer.zero_grad();
      torch::Tensor pred = model.unet->forward(schedule.AddNoise(x0, noise, t).to(dtype), t,
                                               batch.text.hidden_states, batch.text.Added());
      torch::Tensor target = schedule.Target(x0, noise, t);
      torch::Tensor loss = spec.masked_loss && batch.loss_weights.defined()
                               ? MaskedMseLoss(pred, target, batch.loss_weights)
                               : torch::mse_loss(pred.to(torch::kFloat32), target);
      const double loss_value = loss.item<double>();
      if (!std::isfinite(loss_value)) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "the loss became %f at step %d of %d: training diverged; lower learning_rate "
            "(now %g) or check the dataset",
            loss_value, step, total, spec.learning_rate));
      }
      loss.backward();
      optimizer.step();
      result.steps = step;
      result.final_loss = loss_value;

      if (callbacks.on_progress && (step % spec.progress_every == 0 || step == total)) {
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        ProgressEvent event{.step = step, .total = total, .loss = loss_value, .lr = lr};
        event.it_s = elapsed > 0 ? static_cast<double>(step - first_step + 1) / elapsed : 0;
        event.eta_s = event.it_s > 0 ? static_cast<double>(total - step) / event.it_s : 0;
        callbacks.on_progress(event);
      }
      const bool saved_now = checkpointing && step % spec.checkpointing_steps == 0 && step < total;
      if (saved_now) EASEL_RETURN_IF_ERROR(save(step, loss_value).status());
      if (step < total && checkpoints.stop_requested != nullptr &&
          checkpoints.stop_requested->load()) {
        std::string saved = "no checkpoint (checkpointing is off)";
        if (checkpointing) {
          saved = absl::StrCat("checkpoint ", CheckpointName(step), " saved");
          if (!saved_now) EASEL_RETURN_IF_ERROR(save(step, loss_value).status());
        }
        return absl::CancelledError(
            absl::StrFormat("at step %d of %d; %s", step, total, saved));
      }
    }
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.steps_per_second =
        elapsed > 0 ? static_cast<double>(total - first_step + 1) / elapsed : 0;
    result.peak_device_memory_bytes = compat::PeakDeviceMemoryBytes(device);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("LoRA training: ", e.what()));
  }
  return result;
}

}  // namespace easel::methods
