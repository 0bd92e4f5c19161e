#include "trainer/methods/lora_training.h"

#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <cmath>
#include <exception>
#include <utility>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "trainer/data/data_order.h"

namespace easel::methods {
namespace {

constexpr int64_t kEncodeChunk = 8;
constexpr int64_t kMaxTextLength = 77;
// Distinct streams derived from the spec's seed.
constexpr uint64_t kLatentNoiseStream = 0x6c6174656e7473ULL;
constexpr uint64_t kTrainNoiseStream = 0x747261696e6e6fULL;

void Log(const TrainingCallbacks& callbacks, const std::string& message) {
  if (callbacks.on_log) callbacks.on_log(message);
}

torch::Tensor ResizeIfNeeded(const torch::Tensor& pixels, int64_t resolution) {
  if (resolution == 0 || (pixels.size(2) == resolution && pixels.size(3) == resolution)) {
    return pixels;
  }
  return torch::nn::functional::interpolate(
             pixels, torch::nn::functional::InterpolateFuncOptions()
                         .size(std::vector<int64_t>{resolution, resolution})
                         .mode(torch::kBilinear)
                         .align_corners(false))
      .clamp(-1, 1);
}

absl::StatusOr<EncodedDataset> EncodeUnchecked(models::DiffusersModel& model,
                                               const data::PreparedDataset& dataset,
                                               int64_t resolution, uint64_t seed,
                                               torch::Device device) {
  torch::NoGradGuard no_grad;
  const int64_t count = dataset.pixels.size(0);
  if (count == 0 || static_cast<int64_t>(dataset.images.size()) != count) {
    return absl::InvalidArgumentError("the prepared dataset has no images");
  }
  EncodedDataset encoded;
  model.text_encoder->eval();
  model.text_encoder->to(device);
  std::vector<torch::Tensor> hidden;
  for (int64_t begin = 0; begin < count; begin += kEncodeChunk) {
    std::vector<torch::Tensor> ids;
    for (int64_t i = begin; i < std::min(count, begin + kEncodeChunk); ++i) {
      std::vector<int64_t> tokens =
          model.tokenizer->EncodePadded(dataset.images[i].caption, kMaxTextLength);
      ids.push_back(torch::tensor(tokens, torch::kLong));
    }
    hidden.push_back(model.text_encoder->forward(torch::stack(ids).to(device)).last_hidden_state);
  }
  encoded.hidden_states = torch::cat(hidden);
  model.text_encoder->to(torch::kCPU);

  model.vae->eval();
  model.vae->to(device);
  at::Generator generator = at::detail::createCPUGenerator(seed ^ kLatentNoiseStream);
  std::vector<torch::Tensor> latents;
  for (int64_t begin = 0; begin < count; begin += kEncodeChunk) {
    torch::Tensor pixels = ResizeIfNeeded(
        dataset.pixels.slice(0, begin, std::min(count, begin + kEncodeChunk)), resolution);
    models::LatentDistribution dist = model.vae->Encode(pixels.to(device));
    torch::Tensor noise = torch::randn(dist.mean.sizes(), generator, torch::kFloat32);
    latents.push_back(dist.Sample(noise.to(device, dist.mean.scalar_type())) *
                      model.vae->scaling_factor());
  }
  encoded.latents = torch::cat(latents).to(torch::kFloat32);
  model.vae->to(torch::kCPU);
  return encoded;
}

}  // namespace

absl::StatusOr<EncodedDataset> EncodeDataset(models::DiffusersModel& model,
                                             const data::PreparedDataset& dataset,
                                             int64_t resolution, uint64_t seed,
                                             torch::Device device) {
  if (!model.unet || !model.text_encoder || !model.vae || !model.tokenizer) {
    return absl::FailedPreconditionError("the base model is not fully loaded");
  }
  try {
    return EncodeUnchecked(model, dataset, resolution, seed, device);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("encoding the dataset: ", e.what()));
  }
}

double LearningRateAt(const TrainingSpec& spec, int64_t step) {
  if (spec.lr_warmup_steps <= 0 || step >= spec.lr_warmup_steps) return spec.learning_rate;
  return spec.learning_rate * static_cast<double>(step) /
         static_cast<double>(spec.lr_warmup_steps);
}

absl::StatusOr<double> MeanDenoisingLoss(models::UNet2DConditionModel& unet,
                                         const sampling::NoiseSchedule& schedule,
                                         const torch::Tensor& latents,
                                         const torch::Tensor& hidden_states,
                                         const torch::Tensor& timesteps,
                                         const torch::Tensor& noise, int64_t batch_size) {
  const int64_t rows = latents.size(0);
  if (hidden_states.size(0) != rows || timesteps.size(0) != rows || noise.sizes() != latents.sizes()) {
    return absl::InvalidArgumentError(
        "MeanDenoisingLoss: latents, hidden_states, timesteps and noise need matching rows");
  }
  try {
    torch::NoGradGuard no_grad;
    const bool was_training = unet->is_training();
    unet->eval();
    const torch::Device device = unet->parameters().front().device();
    double total = 0;
    for (int64_t begin = 0; begin < rows; begin += std::max<int64_t>(batch_size, 1)) {
      const int64_t end = std::min(rows, begin + std::max<int64_t>(batch_size, 1));
      torch::Tensor x0 = latents.slice(0, begin, end).to(device);
      torch::Tensor eps = noise.slice(0, begin, end).to(device);
      torch::Tensor t = timesteps.slice(0, begin, end).to(device, torch::kLong);
      torch::Tensor pred =
          unet->forward(schedule.AddNoise(x0, eps, t), t, hidden_states.slice(0, begin, end).to(device));
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
                                             torch::Device device) {
  if (spec.method != "lora") {
    return absl::InvalidArgumentError(absl::StrCat("TrainLora cannot run method ", spec.method));
  }
  EASEL_ASSIGN_OR_RETURN(sampling::NoiseSchedule schedule,
                         sampling::NoiseSchedule::FromConfig(model.scheduler_config));
  Log(callbacks, absl::StrFormat("encoding %d images and captions", dataset.images.size()));
  EASEL_ASSIGN_OR_RETURN(EncodedDataset encoded,
                         EncodeDataset(model, dataset, spec.resolution, spec.seed, device));

  const double alpha = spec.lora_alpha > 0 ? spec.lora_alpha : static_cast<double>(spec.lora_rank);
  lora::LoraOptions options{.rank = spec.lora_rank,
                            .alpha = alpha,
                            .target_modules = spec.lora_target_modules};
  try {
    model.unet->to(device);  // first, so the adapters are created on `device`
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("moving the UNet to ", device.str(), ": ", e.what()));
  }
  EASEL_ASSIGN_OR_RETURN(std::vector<lora::NamedParameter> trainable,
                         lora::InjectLora({"unet", model.unet.get()}, options));
  LoraTrainingResult result;
  result.info = {.rank = spec.lora_rank,
                 .alpha = alpha,
                 .trigger_phrase = spec.token_string,
                 .target_modules = spec.lora_target_modules};
  try {
    model.unet->train();
    std::vector<torch::Tensor> parameters;
    int64_t parameter_count = 0;
    for (const auto& p : trainable) {
      parameters.push_back(p.parameter);
      parameter_count += p.parameter.numel();
    }
    Log(callbacks, absl::StrFormat("training %d LoRA tensors (%d parameters), rank %d, on %s",
                                   trainable.size(), parameter_count, spec.lora_rank,
                                   device.str()));
    torch::optim::AdamW optimizer(
        parameters, torch::optim::AdamWOptions(spec.learning_rate).weight_decay(1e-2));

    data::DataOrder order(encoded.latents.size(0), spec.seed);
    at::Generator generator = at::detail::createCPUGenerator(spec.seed ^ kTrainNoiseStream);
    const int64_t total = spec.max_train_steps;
    const auto start = std::chrono::steady_clock::now();
    for (int64_t step = 1; step <= total; ++step) {
      const double lr = LearningRateAt(spec, step);
      for (auto& group : optimizer.param_groups()) {
        static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
      }
      torch::Tensor index =
          torch::tensor(order.NextBatch(spec.train_batch_size), torch::kLong).to(device);
      torch::Tensor x0 = encoded.latents.index_select(0, index);
      torch::Tensor hidden = encoded.hidden_states.index_select(0, index);
      torch::Tensor noise = torch::randn(x0.sizes(), generator, torch::kFloat32).to(device);
      torch::Tensor t = torch::randint(0, schedule.num_train_timesteps(), {x0.size(0)}, generator,
                                       torch::kLong)
                            .to(device);

      optimizer.zero_grad();
      torch::Tensor pred = model.unet->forward(schedule.AddNoise(x0, noise, t), t, hidden);
      torch::Tensor loss =
          torch::mse_loss(pred.to(torch::kFloat32), schedule.Target(x0, noise, t));
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
        event.it_s = elapsed > 0 ? static_cast<double>(step) / elapsed : 0;
        event.eta_s = event.it_s > 0 ? static_cast<double>(total - step) / event.it_s : 0;
        callbacks.on_progress(event);
      }
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("LoRA training: ", e.what()));
  }
  return result;
}

}  // namespace easel::methods
