#ifndef EASEL_TRAINER_MODELS_SINGLE_FILE_H_
#define EASEL_TRAINER_MODELS_SINGLE_FILE_H_

// Single-file checkpoints in the original key names (CompVis LDM / SGM, as A1111 and ComfyUI
// use them: v1-5-pruned-emaonly.safetensors, sd_xl_base_1.0.safetensors, ...), converted to our
// (diffusers / transformers) names with configs inferred from the tensor shapes.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "trainer/models/autoencoder_kl.h"
#include "trainer/models/clip_text_model.h"
#include "trainer/models/diffusers_model.h"
#include "trainer/models/unet_2d_condition.h"

namespace easel::models {

enum class SingleFileArchitecture {
  kSd1,   // CLIP ViT-L under cond_stage_model.transformer.; 8 heads per block
  kSd2,   // OpenCLIP ViT-H under cond_stage_model.model. (penultimate layer); head dim 64
  kSdxl,  // CLIP ViT-L + OpenCLIP bigG under conditioner.embedders.{0,1}.; head dim 64
};

// "sd1" | "sd2" | "sdxl".
std::string_view SingleFileArchitectureName(SingleFileArchitecture architecture);

struct SingleFileComponents {
  SingleFileArchitecture architecture = SingleFileArchitecture::kSd1;
  UNet2DConditionConfig unet_config;
  std::map<std::string, torch::Tensor> unet;
  AutoencoderKLConfig vae_config;
  std::map<std::string, torch::Tensor> vae;
  CLIPTextConfig text_encoder_config;
  std::map<std::string, torch::Tensor> text_encoder;
  // SDXL only: the OpenCLIP bigG encoder (CLIPTextModelWithProjection).
  std::optional<CLIPTextConfig> text_encoder_2_config;
  std::map<std::string, torch::Tensor> text_encoder_2;
  // Keys no component took, sorted: EMA copies (model_ema.*), position_ids buffers, SD 2.x's
  // last text-encoder block and text_projection, anything unknown. Not an error.
  std::vector<std::string> unused_keys;
};

// Detects the architecture from the keys and converts every component. The prediction type
// (epsilon or v) cannot be told from the weights; VAE scaling factor and sample sizes follow
// the architecture (0.18215, or 0.13025 for SDXL). Tensors keep their dtype. A missing tensor
// is an InvalidArgument naming its original key; a file that is not SD 1.x / 2.x / SDXL is an
// InvalidArgument saying so.
absl::StatusOr<SingleFileComponents> ConvertSingleFile(
    std::map<std::string, torch::Tensor> tensors);

// Reads `file` (safetensors), converts it, and builds the models in fp32 on CPU. The CLIP
// tokenizer comes from `tokenizer_dir`: either a diffusers model directory (tokenizer/ and, for
// SDXL, tokenizer_2/) or a directory holding vocab.json and merges.txt; for SDXL without a
// tokenizer_2/ the second tokenizer is the same vocabulary padding with "!". The scheduler
// config is DDPM with SD's scaled_linear betas and prediction_type "epsilon": for v-prediction
// models (SD 2.x 768-v) the caller sets scheduler_config["prediction_type"] = "v_prediction".
// `unused_keys`, when given, receives SingleFileComponents::unused_keys.
absl::StatusOr<DiffusersModel> LoadSingleFileCheckpoint(
    const std::filesystem::path& file, const std::filesystem::path& tokenizer_dir,
    std::vector<std::string>* unused_keys = nullptr);

}  // namespace easel::models

#endif  // EASEL_TRAINER_MODELS_SINGLE_FILE_H_
