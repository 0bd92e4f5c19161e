#ifndef EASEL_TRAINER_METHODS_DATASET_ENCODING_H_
#define EASEL_TRAINER_METHODS_DATASET_ENCODING_H_

#include <torch/types.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/data/prepared_dataset.h"
#include "trainer/models/diffusers_model.h"

namespace easel::methods {

// What the UNet is conditioned on, one row per caption.
struct TextConditioning {
  // SD 1.x/2.x: the text encoder's last_hidden_state [N, 77, D]. SDXL: the penultimate hidden
  // states of both encoders, concatenated [N, 77, D1 + D2].
  torch::Tensor hidden_states;
  torch::Tensor text_embeds;  // SDXL: text_encoder_2's projected pooled output [N, P]
  // SDXL: [N, 6] original size, crop top-left, target size, per image (see SdxlTimeIds).
  torch::Tensor time_ids;

  TextConditioning Rows(const torch::Tensor& index) const;
  TextConditioning Slice(int64_t begin, int64_t end) const;
  TextConditioning RepeatInterleave(int64_t repeats) const;
  TextConditioning To(torch::Device device, torch::Dtype dtype) const;
  models::UNetAddedConditions Added() const { return {text_embeds, time_ids}; }
};

// The size, in pixels, an image of `width` x `height` is trained at: its own when
// `resolution` is 0 or the dataset's; otherwise scaled by resolution / dataset_resolution, each
// side rounded to the nearest multiple of 8 (at least 8). A square image of the dataset's
// resolution becomes resolution x resolution.
struct TrainingSize {
  int64_t width = 0;
  int64_t height = 0;
};
TrainingSize TrainingSizeOf(int64_t width, int64_t height, int64_t dataset_resolution,
                            int64_t resolution);

// The latents of one bucket's images (one training size).
struct EncodedBucket {
  int64_t width = 0;  // pixels, as trained (TrainingSizeOf the dataset bucket's size)
  int64_t height = 0;
  std::vector<int64_t> images;  // manifest indices: row r of latents is image images[r]
  torch::Tensor latents;        // [n, C, h, w]: VAE sample * scaling_factor, float32
  // [n, 1, h, w] float32: each image's mask at latent size (LatentLossWeights), 1 everywhere
  // for an image without one. Undefined when no image of the bucket has a mask.
  torch::Tensor loss_weights;
  std::vector<bool> masked;  // per row: the image has a mask
};

// The rows of one training step: images of one bucket.
struct TrainingBatch {
  torch::Tensor latents;  // [B, C, h, w]
  TextConditioning text;
  // [B, 1, h, w], or undefined when no image of the batch has a mask.
  torch::Tensor loss_weights;
};

// The frozen encoders' view of the dataset, computed once before training.
struct EncodedDataset {
  std::vector<EncodedBucket> buckets;  // one per bucket of the dataset, in its order
  TextConditioning text;               // rows in manifest order
  // Image i is row location[i].second of buckets[location[i].first].
  std::vector<std::pair<size_t, int64_t>> location;

  // The batch of manifest indices `images`, which must all be of one bucket (else
  // InvalidArgument). `text` must already be on the device the batch is wanted on (a copy of
  // this->text moved there, so it is moved once and not every step).
  absl::StatusOr<TrainingBatch> Batch(const std::vector<int64_t>& images,
                                      const TextConditioning& text) const;
  // Item indices per bucket, for data::BucketBatchOrder.
  std::vector<std::vector<int64_t>> BucketImages() const;
};

// Encodes the dataset's images, one at a time in manifest order, at TrainingSizeOf their
// size (resized bilinearly when it differs; the latent sample uses noise from `seed`) and
// their captions on `device`; masks become loss weights at latent size. Results stay on
// `device`. The captions' hidden states come `clip_skip` layers before the usual ones (SD
// 1.x/2.x: the last layer after the final layer norm; SDXL: both encoders' penultimate layer);
// a clip_skip that leaves no layer is InvalidArgument. SDXL's time ids are per image
// (SdxlTimeIds at its training size).
absl::StatusOr<EncodedDataset> EncodeDataset(models::DiffusersModel& model,
                                             const data::PreparedDataset& dataset,
                                             int64_t resolution, uint64_t seed,
                                             torch::Device device, int64_t clip_skip = 0);

}  // namespace easel::methods

#endif  // EASEL_TRAINER_METHODS_DATASET_ENCODING_H_
