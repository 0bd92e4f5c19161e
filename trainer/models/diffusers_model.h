#ifndef EASEL_TRAINER_MODELS_DIFFUSERS_MODEL_H_
#define EASEL_TRAINER_MODELS_DIFFUSERS_MODEL_H_

#include <cstdint>
#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>

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
  AutoencoderKL vae{nullptr};
  std::shared_ptr<tokenizer::CLIPTokenizer> tokenizer;
  nlohmann::json scheduler_config;  // scheduler/scheduler_config.json
  nlohmann::json model_index;
};

// Loads a diffusers-layout directory (model_index.json, <component>/config.json,
// <component>/diffusion_pytorch_model.safetensors or model.safetensors) in fp32 on CPU.
absl::StatusOr<DiffusersModel> LoadDiffusersModel(const std::filesystem::path& dir);

// Writes the "tiny" preset: random init from `seed`, full diffusers layout with config.json
// files, safetensors weights, tokenizer files, scheduler config (no download needed).
absl::Status SaveTinyModel(const std::filesystem::path& dir, uint64_t seed);

// The tiny preset's configs (64x64 images, 32x32 latents).
UNet2DConditionConfig TinyUNetConfig();
CLIPTextConfig TinyTextEncoderConfig();
AutoencoderKLConfig TinyVaeConfig();

}  // namespace easel::models

#endif  // EASEL_TRAINER_MODELS_DIFFUSERS_MODEL_H_
