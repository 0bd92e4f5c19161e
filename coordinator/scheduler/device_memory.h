#ifndef EASEL_COORDINATOR_SCHEDULER_DEVICE_MEMORY_H_
#define EASEL_COORDINATOR_SCHEDULER_DEVICE_MEMORY_H_

#include <cstdint>
#include <filesystem>
#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/struct.pb.h"

namespace easel::coordinator {

// Parameters of a diffusers base model directory, from its safetensors headers.
struct BaseModelSize {
  int64_t unet_parameters = 0;
  int64_t other_parameters = 0;  // text encoders and VAE
};

absl::StatusOr<BaseModelSize> MeasureBaseModel(const std::filesystem::path& dir);

// The device memory a LoRA training needs on a device of `device_kind` ("cuda" or "cpu"), a
// deliberately generous estimate (docs/trainings.md, "Placement"):
//   2 x the base weights in the compute dtype (bf16 on CUDA unless mixed_precision is "no",
//   float32 on the CPU) -- the weights, plus the allocator's slack and the adapters' optimizer
//   state --
//   + train_batch_size x (resolution / 512)^2 x 1 GiB x max(1, unet parameters / 860M) of
//   activations (SD 1.5's UNet has 860M parameters).
int64_t TrainingMemoryNeed(const BaseModelSize& model, const google::protobuf::Struct& input,
                           const std::string& device_kind);

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_SCHEDULER_DEVICE_MEMORY_H_
