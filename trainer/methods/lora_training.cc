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
#include "trainer/data/data_order.h"
#include "trainer/models/torch_compat.h"

namespace easel::methods {
namespace {

constexpr int64_t kEncodeChunk = 8;
// One image at a time through the VAE: its activations at 1024px take gigabytes per image.
constexpr int64_t kVaeEncodeChunk = 1;
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

torch::Tensor TokenIds(const tokenizer::CLIPTokenizer& tokenizer, const data::PreparedDataset& dataset,
                       int64_t begin, int64_t end) {
  std::vector<torch::Tensor> ids;
  for (int64_t i = begin; i < end; ++i) {
    ids.push_back(torch::tensor(tokenizer.EncodePadded(dataset.images[i].caption, kMaxTextLength),
                                torch::kLong));
  }
  return torch::stack(ids);
}

// hidden_states holds the embeddings and every layer's output: the last layer's is
// [size - 1], SDXL's penultimate [size - 2]; clip_skip k steps k layers further back.
torch::Tensor HiddenStatesBack(const models::CLIPTextOutput& output, int64_t back) {
  return output.hidden_states[output.hidden_states.size() - 1 - back];
}

// SD 1.x/2.x: the last layer after the final layer norm, or with clip_skip k the output of
// k layers earlier through the same layer norm (as diffusers' pipelines do).
torch::Tensor SdConditioning(models::CLIPTextModel& encoder, const models::CLIPTextOutput& output,
                             int64_t clip_skip) {
  if (clip_skip == 0) return output.last_hidden_state;
  return encoder->final_layer_norm()->forward(HiddenStatesBack(output, clip_skip));
}

TextConditioning EncodeCaptions(models::DiffusersModel& model, const data::PreparedDataset& dataset,
                                int64_t resolution, int64_t clip_skip, torch::Device device) {
  const bool sdxl = !model.text_encoder_2.is_empty();
  const int64_t count = dataset.pixels.size(0);
  model.text_encoder->eval();
  model.text_encoder->to(device);
  if (sdxl) {
    model.text_encoder_2->eval();
    model.text_encoder_2->to(device);
  }
  std::vector<torch::Tensor> hidden, pooled;
  for (int64_t begin = 0; begin < count; begin += kEncodeChunk) {
    const int64_t end = std::min(count, begin + kEncodeChunk);
    models::CLIPTextOutput first =
        model.text_encoder->forward(TokenIds(*model.tokenizer, dataset, begin, end).to(device));
    if (!sdxl) {
      hidden.push_back(SdConditioning(model.text_encoder, first, clip_skip));
      continue;
    }
    models::CLIPTextOutput second =
        model.text_encoder_2->forward(TokenIds(*model.tokenizer_2, dataset, begin, end).to(device));
    hidden.push_back(torch::cat(
        {HiddenStatesBack(first, 1 + clip_skip), HiddenStatesBack(second, 1 + clip_skip)}, -1));
    pooled.push_back(second.text_embeds);
  }
  model.text_encoder->to(torch::kCPU);
  TextConditioning text{.hidden_states = torch::cat(hidden).to(torch::kFloat32)};
  if (sdxl) {
    model.text_encoder_2->to(torch::kCPU);
    text.text_embeds = torch::cat(pooled).to(torch::kFloat32);
    const double size = static_cast<double>(resolution);
    text.time_ids = torch::tensor({size, size, 0.0, 0.0, size, size}, torch::kFloat32)
                        .to(device)
                        .repeat({count, 1});
  }
  return text;
}

absl::StatusOr<EncodedDataset> EncodeUnchecked(models::DiffusersModel& model,
                                               const data::PreparedDataset& dataset,
                                               int64_t resolution, uint64_t seed,
                                               torch::Device device, int64_t clip_skip) {
  torch::NoGradGuard no_grad;
  const int64_t count = dataset.pixels.size(0);
  if (count == 0 || static_cast<int64_t>(dataset.images.size()) != count) {
    return absl::InvalidArgumentError("the prepared dataset has no images");
  }
  if (!model.text_encoder_2.is_empty() && !model.tokenizer_2) {
    return absl::FailedPreconditionError("the base model has text_encoder_2 but no tokenizer_2");
  }
  EncodedDataset encoded;
  const int64_t size = resolution > 0 ? resolution : dataset.pixels.size(2);
  const bool sdxl = !model.text_encoder_2.is_empty();
  int64_t layers = model.text_encoder->config().num_hidden_layers;
  if (sdxl) layers = std::min(layers, model.text_encoder_2->config().num_hidden_layers);
  // SDXL already starts one layer back; at least one layer must remain.
  const int64_t max_clip_skip = layers - (sdxl ? 2 : 1);
  if (clip_skip < 0 || clip_skip > max_clip_skip) {
    return absl::InvalidArgumentError(absl::StrCat(
        "clip_skip must be in [0, ", max_clip_skip, "] for this base model's ", layers,
        "-layer text encoder, got ", clip_skip));
  }
  encoded.text = EncodeCaptions(model, dataset, size, clip_skip, device);

  model.vae->eval();
  model.vae->to(device);
  at::Generator generator = at::detail::createCPUGenerator(seed ^ kLatentNoiseStream);
  std::vector<torch::Tensor> latents;
  for (int64_t begin = 0; begin < count; begin += kVaeEncodeChunk) {
    torch::Tensor pixels = ResizeIfNeeded(
        dataset.pixels.slice(0, begin, std::min(count, begin + kVaeEncodeChunk)), resolution);
    models::LatentDistribution dist = model.vae->Encode(pixels.to(device));
    torch::Tensor noise = torch::randn(dist.mean.sizes(), generator, torch::kFloat32);
    latents.push_back(dist.Sample(noise.to(device, dist.mean.scalar_type())) *
                      model.vae->scaling_factor());
  }
  encoded.latents = torch::cat(latents).to(torch::kFloat32);
  model.vae->to(torch::kCPU);
  return encoded;
}

torch::Dtype ComputeDtype(const TrainingSpec& spec, torch::Device device) {
  if (spec.mixed_precision == "auto") return device.is_cuda() ? torch::kBFloat16 : torch::kFloat32;
  if (spec.mixed_precision == "bf16") return torch::kBFloat16;
  if (spec.mixed_precision == "fp16") return torch::kFloat16;
  return torch::kFloat32;
}

}  // namespace

TextConditioning TextConditioning::Rows(const torch::Tensor& index) const {
  auto pick = [&](const torch::Tensor& t) {
    return t.defined() ? t.index_select(0, index.to(t.device())) : t;
  };
  return {pick(hidden_states), pick(text_embeds), pick(time_ids)};
}

TextConditioning TextConditioning::Slice(int64_t begin, int64_t end) const {
  auto cut = [&](const torch::Tensor& t) { return t.defined() ? t.slice(0, begin, end) : t; };
  return {cut(hidden_states), cut(text_embeds), cut(time_ids)};
}

TextConditioning TextConditioning::RepeatInterleave(int64_t repeats) const {
  auto repeat = [&](const torch::Tensor& t) {
    return t.defined() ? t.repeat_interleave(repeats, 0) : t;
  };
  return {repeat(hidden_states), repeat(text_embeds), repeat(time_ids)};
}

TextConditioning TextConditioning::To(torch::Device device, torch::Dtype dtype) const {
  auto move = [&](const torch::Tensor& t) { return t.defined() ? t.to(device, dtype) : t; };
  return {move(hidden_states), move(text_embeds), move(time_ids)};
}

absl::StatusOr<EncodedDataset> EncodeDataset(models::DiffusersModel& model,
                                             const data::PreparedDataset& dataset,
                                             int64_t resolution, uint64_t seed,
                                             torch::Device device, int64_t clip_skip) {
  if (model.unet.is_empty() || model.text_encoder.is_empty() || model.vae.is_empty() ||
      !model.tokenizer) {
    return absl::FailedPreconditionError("the base model is not fully loaded");
  }
  try {
    return EncodeUnchecked(model, dataset, resolution, seed, device, clip_skip);
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
                                             torch::Device device) {
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
    const TextConditioning text = encoded.text.To(device, dtype);
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
      TextConditioning batch_text = text.Rows(index);
      torch::Tensor noise = torch::randn(x0.sizes(), generator, torch::kFloat32).to(device);
      torch::Tensor t = torch::randint(0, schedule.num_train_timesteps(), {x0.size(0)}, generator,
                                       torch::kLong)
                            .to(device);

      optimizer.zero_grad();
      torch::Tensor pred = model.unet->forward(schedule.AddNoise(x0, noise, t).to(dtype), t,
                                               batch_text.hidden_states, batch_text.Added());
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
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.steps_per_second = elapsed > 0 ? static_cast<double>(total) / elapsed : 0;
    result.peak_device_memory_bytes = compat::PeakDeviceMemoryBytes(device);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("LoRA training: ", e.what()));
  }
  return result;
}

}  // namespace easel::methods
