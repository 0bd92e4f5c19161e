#ifndef EASEL_TRAINER_MODELS_DIFFUSERS_MODEL_H_
#define EASEL_TRAINER_MODELS_DIFFUSERS_MODEL_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/models/autoencoder_kl.h"
#include "trainer/models/clip_text_model.h"
#include "trainer/models/unet_2d_condition.h"
#include "trainer/tokenizer/clip_tokenizer.h"

namespace easel::models {

struct DiffusersModel {
  std::filesystem::path dir;
  UNet2DConditionModel unet{nullptr};
  CLIPTextModel text_encoder{nullptr};
  CLIPTextModel text_encoder_2{nullptr};  // SDXL only (CLIPTextModelWithProjection)
  AutoencoderKL vae{nullptr};
  std::shared_ptr<tokenizer::CLIPTokenizer> tokenizer;
  std::shared_ptr<tokenizer::CLIPTokenizer> tokenizer_2;  // SDXL only
  nlohmann::json scheduler_config;  // scheduler/scheduler_config.json
  nlohmann::json model_index;
};

// Loads a diffusers-layout directory (model_index.json, <component>/config.json,
// <component>/diffusion_pytorch_model.safetensors or model.safetensors) in fp32 on CPU.
// text_encoder_2 and tokenizer_2 are loaded when model_index.json names them (SDXL).
absl::StatusOr<DiffusersModel> LoadDiffusersModel(const std::filesystem::path& dir);

// Writes `model` as a diffusers-layout directory at `dir` (which must not exist): model_index,
// scheduler config, each component's config.json and weights in `dtype` (floating tensors
// only), and the tokenizers. Everything is written under "<dir>.partial" and renamed when
// complete, so `dir` is either whole or absent. LoadDiffusersModel(dir) reads it back.
absl::Status SaveDiffusersModel(const DiffusersModel& model, const std::filesystem::path& dir,
                                torch::Dtype dtype = torch::kFloat32);

// One component directory (config.json + weights: single file, sharded index or .fp16
// variant), in fp32 on CPU.
absl::StatusOr<UNet2DConditionModel> LoadUNet(const std::filesystem::path& dir);
absl::StatusOr<CLIPTextModel> LoadTextEncoder(const std::filesystem::path& dir);
absl::StatusOr<AutoencoderKL> LoadVae(const std::filesystem::path& dir);

// The built-in base models, random initialisation, made locally (no download):
//   kTiny      SD 1.x layout: conv projections, one text encoder.
//   kTinySdxl  SDXL layout: linear projections, transformer depth per block, text_time
//              addition embedding, a second text encoder with projection, tokenizer_2.
enum class TinyPreset { kTiny, kTinySdxl };

// "tiny" | "tiny-sdxl"; anything else is InvalidArgument listing the names.
absl::StatusOr<TinyPreset> ParseTinyPreset(std::string_view name);

// Writes a preset from `seed` in full diffusers layout: model_index.json, config.json files,
// safetensors weights, tokenizer files, scheduler config.
absl::Status SaveTinyModel(const std::filesystem::path& dir, uint64_t seed,
                           TinyPreset preset = TinyPreset::kTiny);

// The tiny presets' configs (64x64 images, 32x32 latents).
UNet2DConditionConfig TinyUNetConfig();
UNet2DConditionConfig TinySdxlUNetConfig();
CLIPTextConfig TinyTextEncoderConfig();
CLIPTextConfig TinySdxlTextEncoder2Config();
AutoencoderKLConfig TinyVaeConfig();

}  // namespace easel::models

#endif  // EASEL_TRAINER_MODELS_DIFFUSERS_MODEL_H_
