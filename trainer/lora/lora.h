#ifndef EASEL_TRAINER_LORA_LORA_H_
#define EASEL_TRAINER_LORA_LORA_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <torch/nn/module.h>
#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace easel::lora {

struct LoraOptions {
  int64_t rank = 4;
  double alpha = 4;
  // Module names (a path or its last components) of linear or convolution layers, e.g. to_q,
  // to_out.0, ff.net.0.proj; conv1, conv2, conv_shortcut, proj_in, proj_out, conv_in, conv_out.
  std::vector<std::string> target_modules = {"to_q", "to_k", "to_v", "to_out.0"};
};

// How the tensors of a LoRA file are named.
//   kDiffusers  diffusers/peft: `unet.<module path>.lora_A.weight` / `.lora_B.weight`, with
//               `lora_adapter_metadata` (the peft LoraConfig per part) in the metadata.
//               Convolution adapters are 4-D ([rank, in, k, k] and [out, rank, 1, 1]) in both
//               styles, as peft and kohya LoCon write them.
//   kKohya      kohya-ss (AUTOMATIC1111, ComfyUI): `lora_unet_<path with '.' -> '_'>`
//               `.lora_down.weight` / `.lora_up.weight` / `.alpha`, with ss_* and modelspec.*.
enum class LoraKeyStyle { kDiffusers, kKohya };

// The base model family a LoRA applies to (kohya's ss_base_model_version and modelspec).
enum class BaseModelVersion {
  kUnknown,
  kSd1,       // SD 1.x
  kSd2,       // SD 2.x, 512px, epsilon prediction
  kSd2V768,   // SD 2.x, 768px, v prediction
  kSdxlBase,  // SDXL 1.0 base
};

// One model that carries adapters, and the key prefix its tensors get in a file
// ("unet", "text_encoder", "text_encoder_2").
struct LoraPart {
  std::string prefix;
  torch::nn::Module* module = nullptr;
  // Kohya-style name prefix ("lora_unet_", "lora_te_", "lora_te1_", "lora_te2_"). Empty:
  // derived from `prefix` (text_encoder is lora_te1_ for SDXL, else lora_te_).
  std::string kohya_prefix;
};

struct NamedParameter {
  std::string name;  // "<prefix>.<module path>.lora_A.weight", as saved
  torch::Tensor parameter;
};

// What a LoRA file records besides its tensors (its __metadata__).
struct LoraInfo {
  int64_t rank = 0;
  double alpha = 0;
  std::string trigger_phrase;
  std::string base_model;
  std::vector<std::string> target_modules;
  BaseModelVersion base_model_version = BaseModelVersion::kUnknown;
  std::string title;  // modelspec.title; the file's stem when empty
  // Written as ss_<name> (kohya) or inside easel.training_parameters (diffusers), e.g.
  // {"learning_rate", "1e-4"}, {"max_train_steps", "500"}, {"seed", "42"}.
  std::map<std::string, std::string> training_parameters;
  LoraKeyStyle key_style = LoraKeyStyle::kDiffusers;  // set by LoadLora
};

inline constexpr char kDiffusersLoraFormat[] = "diffusers-lora";
inline constexpr char kKohyaLoraFormat[] = "kohya-lora";

// Freezes every parameter of `part.module`, then enables a LoRA adapter on every
// LoraCompatibleLinear or LoraCompatibleConv2d whose module path is, or ends with ".", a
// target. Returns the adapter parameters (the only trainable ones), sorted by name. No module
// matching is InvalidArgument.
absl::StatusOr<std::vector<NamedParameter>> InjectLora(const LoraPart& part,
                                                       const LoraOptions& options);

// The adapter tensors of `part` under their diffusers file names (detached, CPU, contiguous).
std::map<std::string, torch::Tensor> LoraStateDict(const LoraPart& part);

// Writes the adapters of all parts in `style`. Each layer's alpha is its own (scale * rank);
// rank and alpha in the metadata are the most common ones. Both styles also record
// easel.format, trigger phrase, base model and target modules. kKohya needs
// info.base_model_version.
absl::Status SaveLora(const std::filesystem::path& path, const std::vector<LoraPart>& parts,
                      const LoraInfo& info, LoraKeyStyle style = LoraKeyStyle::kDiffusers);

// Loads a file of either style (told apart by its keys) into the parts. A linear or convolution
// layer named in the file that has no adapter yet gets one (rank from the tensor; the adapters
// of a 1x1 convolution and of a linear layer are interchangeable, [r, in] <-> [r, in, 1, 1]). A layer's alpha comes from the
// file (kohya `.alpha`, diffusers `lora_adapter_metadata` or easel.alpha); a new adapter
// without one gets alpha = rank. Missing adapter tensors, tensors naming no module and shape
// mismatches are errors naming the keys; the model is unchanged then.
absl::StatusOr<LoraInfo> LoadLora(const std::filesystem::path& path,
                                  const std::vector<LoraPart>& parts);

}  // namespace easel::lora

#endif  // EASEL_TRAINER_LORA_LORA_H_
