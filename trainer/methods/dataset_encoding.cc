#include "trainer/methods/dataset_encoding.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "trainer/methods/masked_loss.h"
#include "trainer/methods/sdxl_time_ids.h"

namespace easel::methods {
namespace {

constexpr int64_t kEncodeChunk = 8;
constexpr int64_t kMaxTextLength = 77;
// Distinct stream derived from the spec's seed (the training noise uses another).
constexpr uint64_t kLatentNoiseStream = 0x6c6174656e7473ULL;

torch::Tensor Resize(const torch::Tensor& pixels, const TrainingSize& size) {
  if (pixels.size(2) == size.height && pixels.size(3) == size.width) return pixels;
  return torch::nn::functional::interpolate(pixels,
                                            torch::nn::functional::InterpolateFuncOptions()
                                                .size(std::vector<int64_t>{size.height, size.width})
                                                .mode(torch::kBilinear)
                                                .align_corners(false))
      .clamp(-1, 1);
}

torch::Tensor TokenIds(const tokenizer::CLIPTokenizer& tokenizer,
                       const data::PreparedDataset& dataset, int64_t begin, int64_t end) {
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

// Hidden states and (SDXL) pooled embeds of every caption; no time ids.
TextConditioning EncodeCaptions(models::DiffusersModel& model, const data::PreparedDataset& dataset,
                                int64_t clip_skip, torch::Device device) {
  const bool sdxl = !model.text_encoder_2.is_empty();
  const int64_t count = static_cast<int64_t>(dataset.images.size());
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
  }
  return text;
}

absl::StatusOr<EncodedDataset> EncodeUnchecked(models::DiffusersModel& model,
                                               const data::PreparedDataset& dataset,
                                               int64_t resolution, uint64_t seed,
                                               torch::Device device, int64_t clip_skip) {
  torch::NoGradGuard no_grad;
  const int64_t count = static_cast<int64_t>(dataset.images.size());
  if (count == 0 || dataset.buckets.empty()) {
    return absl::InvalidArgumentError("the prepared dataset has no images");
  }
  if (!model.text_encoder_2.is_empty() && !model.tokenizer_2) {
    return absl::FailedPreconditionError("the base model has text_encoder_2 but no tokenizer_2");
  }
  const bool sdxl = !model.text_encoder_2.is_empty();
  int64_t layers = model.text_encoder->config().num_hidden_layers;
  if (sdxl) layers = std::min(layers, model.text_encoder_2->config().num_hidden_layers);
  // SDXL already starts one layer back; at least one layer must remain.
  const int64_t max_clip_skip = layers - (sdxl ? 2 : 1);
  if (clip_skip < 0 || clip_skip > max_clip_skip) {
    return absl::InvalidArgumentError(absl::StrCat("clip_skip must be in [0, ", max_clip_skip,
                                                   "] for this base model's ", layers,
                                                   "-layer text encoder, got ", clip_skip));
  }
  std::vector<TrainingSize> sizes;
  for (const data::PreparedImage& image : dataset.images) {
    sizes.push_back(TrainingSizeOf(image.width, image.height, dataset.resolution, resolution));
  }

  EncodedDataset encoded;
  encoded.text = EncodeCaptions(model, dataset, clip_skip, device);
  if (sdxl) {
    std::vector<float> time_ids;
    for (int64_t i = 0; i < count; ++i) {
      for (double id : SdxlTimeIds(dataset.images[i], sizes[i].width, sizes[i].height)) {
        time_ids.push_back(static_cast<float>(id));
      }
    }
    encoded.text.time_ids = torch::tensor(time_ids, torch::kFloat32).reshape({count, 6}).to(device);
  }

  // One image at a time through the VAE, in manifest order: its activations at 1024px take
  // gigabytes per image, and sizes differ between buckets.
  model.vae->eval();
  model.vae->to(device);
  at::Generator generator = at::detail::createCPUGenerator(seed ^ kLatentNoiseStream);
  std::vector<torch::Tensor> latents;
  for (int64_t i = 0; i < count; ++i) {
    torch::Tensor pixels = Resize(dataset.images[i].pixels.unsqueeze(0), sizes[i]);
    models::LatentDistribution dist = model.vae->Encode(pixels.to(device));
    torch::Tensor noise = torch::randn(dist.mean.sizes(), generator, torch::kFloat32);
    latents.push_back(dist.Sample(noise.to(device, dist.mean.scalar_type())) *
                      model.vae->scaling_factor());
  }
  model.vae->to(torch::kCPU);

  encoded.location.resize(count);
  for (const data::ImageBucket& source : dataset.buckets) {
    EncodedBucket bucket;
    const TrainingSize size =
        TrainingSizeOf(source.width, source.height, dataset.resolution, resolution);
    bucket.width = size.width;
    bucket.height = size.height;
    bucket.images = source.images;
    std::vector<torch::Tensor> rows;
    bool any_mask = false;
    for (int64_t i : source.images) {
      encoded.location[i] = {encoded.buckets.size(), static_cast<int64_t>(rows.size())};
      rows.push_back(latents[i]);
      bucket.masked.push_back(dataset.images[i].mask.defined());
      any_mask |= bucket.masked.back();
    }
    bucket.latents = torch::cat(rows).to(torch::kFloat32);
    if (any_mask) {
      const int64_t h = bucket.latents.size(2), w = bucket.latents.size(3);
      std::vector<torch::Tensor> weights;
      for (int64_t i : source.images) {
        const torch::Tensor& mask = dataset.images[i].mask;
        weights.push_back(mask.defined() ? LatentLossWeights(mask.unsqueeze(0), h, w)
                                         : torch::ones({1, 1, h, w}, torch::kFloat32));
      }
      bucket.loss_weights = torch::cat(weights).to(device);
    }
    encoded.buckets.push_back(std::move(bucket));
  }
  return encoded;
}

}  // namespace

TrainingSize TrainingSizeOf(int64_t width, int64_t height, int64_t dataset_resolution,
                            int64_t resolution) {
  if (resolution <= 0 || resolution == dataset_resolution || dataset_resolution <= 0) {
    return {width, height};
  }
  const double scale = static_cast<double>(resolution) / static_cast<double>(dataset_resolution);
  auto side = [&](int64_t pixels) {
    const int64_t eighths = std::llround(static_cast<double>(pixels) * scale / 8.0);
    return std::max<int64_t>(eighths, 1) * 8;
  };
  return {side(width), side(height)};
}

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

absl::StatusOr<TrainingBatch> EncodedDataset::Batch(const std::vector<int64_t>& images,
                                                    const TextConditioning& text) const {
  if (images.empty()) return absl::InvalidArgumentError("an empty training batch");
  std::vector<int64_t> rows;
  size_t bucket = 0;
  for (int64_t image : images) {
    if (image < 0 || image >= static_cast<int64_t>(location.size())) {
      return absl::InvalidArgumentError(absl::StrCat("image ", image, " is not in the dataset"));
    }
    const auto [image_bucket, row] = location[image];
    if (rows.empty()) bucket = image_bucket;
    if (image_bucket != bucket) {
      return absl::InvalidArgumentError(
          absl::StrCat("a training batch mixes images of two buckets (images ", images.front(),
                       " and ", image, ")"));
    }
    rows.push_back(row);
  }
  const EncodedBucket& source = buckets[bucket];
  const torch::Device device = source.latents.device();
  TrainingBatch batch;
  const torch::Tensor row_index = torch::tensor(rows, torch::kLong).to(device);
  batch.latents = source.latents.index_select(0, row_index);
  batch.text = text.Rows(torch::tensor(images, torch::kLong).to(device));
  const bool any_mask =
      std::any_of(rows.begin(), rows.end(), [&](int64_t row) { return source.masked[row]; });
  if (any_mask) batch.loss_weights = source.loss_weights.index_select(0, row_index);
  return batch;
}

std::vector<std::vector<int64_t>> EncodedDataset::BucketImages() const {
  std::vector<std::vector<int64_t>> out;
  for (const EncodedBucket& bucket : buckets) out.push_back(bucket.images);
  return out;
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

}  // namespace easel::methods
