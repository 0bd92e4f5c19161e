#include "trainer/parity/component_forward.h"

#include <map>
#include <string>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "trainer/lora/lora.h"
#include "trainer/models/diffusers_model.h"
#include "trainer/models/torch_compat.h"
#include "trainer/models/weights.h"

namespace easel::parity {
namespace {

using TensorMap = std::map<std::string, torch::Tensor>;

absl::StatusOr<torch::Dtype> ParseDtype(const std::string& name) {
  if (name == "float32") return torch::kFloat32;
  if (name == "bfloat16") return torch::kBFloat16;
  if (name == "float16") return torch::kFloat16;
  return absl::InvalidArgumentError(
      absl::StrCat("--dtype must be float32, bfloat16 or float16, got \"", name, "\""));
}

absl::StatusOr<torch::Device> ParseDevice(const std::string& name) {
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name == "cuda") {
    if (!torch::cuda::is_available()) {
      return absl::FailedPreconditionError("--device cuda: no CUDA device is available");
    }
    return torch::Device(torch::kCUDA);
  }
  return absl::InvalidArgumentError(absl::StrCat("--device must be cpu or cuda, got \"", name, "\""));
}

class Inputs {
 public:
  Inputs(TensorMap tensors, torch::Device device, torch::Dtype dtype)
      : tensors_(std::move(tensors)), device_(device), dtype_(dtype) {}

  // The named tensor on the device; floating tensors in the run's dtype.
  absl::StatusOr<torch::Tensor> Get(const std::string& name) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) {
      return absl::InvalidArgumentError(absl::StrCat("inputs file has no tensor \"", name, "\""));
    }
    torch::Tensor t = it->second.to(device_);
    return t.is_floating_point() ? t.to(dtype_) : t;
  }
  torch::Tensor GetOrUndefined(const std::string& name) const {
    auto t = Get(name);
    return t.ok() ? *t : torch::Tensor();
  }

 private:
  TensorMap tensors_;
  torch::Device device_;
  torch::Dtype dtype_;
};

absl::Status ApplyLora(const std::filesystem::path& path, const std::string& prefix,
                       torch::nn::Module& module) {
  if (path.empty()) return absl::OkStatus();
  return lora::LoadLora(path, {{prefix, &module}}).status();
}

absl::Status AddRandomLora(const ComponentForwardOptions& options, torch::nn::Module& unet) {
  if (options.random_lora_rank <= 0) return absl::OkStatus();
  if (options.save_lora.empty()) {
    return absl::InvalidArgumentError("--random-lora-rank needs --save-lora");
  }
  lora::LoraKeyStyle style;
  if (options.lora_style == "diffusers") {
    style = lora::LoraKeyStyle::kDiffusers;
  } else if (options.lora_style == "kohya") {
    style = lora::LoraKeyStyle::kKohya;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--lora-style must be diffusers or kohya, got \"", options.lora_style, "\""));
  }
  const int64_t rank = options.random_lora_rank;
  lora::LoraOptions lora_options{.rank = rank, .alpha = 2.0 * static_cast<double>(rank)};
  if (!options.lora_targets.empty()) lora_options.target_modules = options.lora_targets;
  EASEL_ASSIGN_OR_RETURN(auto adapters, lora::InjectLora({"unet", &unet}, lora_options));
  torch::NoGradGuard no_grad;
  torch::manual_seed(17);
  for (auto& adapter : adapters) adapter.parameter.normal_(0.0, 0.05);
  lora::LoraInfo info{.rank = rank,
                      .alpha = lora_options.alpha,
                      .target_modules = lora_options.target_modules,
                      .base_model_version = lora::BaseModelVersion::kSd1};
  return lora::SaveLora(options.save_lora, {{"unet", &unet}}, info, style);
}

absl::StatusOr<TensorMap> RunUNet(const ComponentForwardOptions& options, const Inputs& inputs,
                                  torch::Device device, torch::Dtype dtype) {
  EASEL_ASSIGN_OR_RETURN(models::UNet2DConditionModel unet, models::LoadUNet(options.dir));
  EASEL_RETURN_IF_ERROR(ApplyLora(options.lora, "unet", *unet));
  EASEL_RETURN_IF_ERROR(AddRandomLora(options, *unet));
  unet->to(device, dtype);
  unet->eval();
  EASEL_ASSIGN_OR_RETURN(torch::Tensor sample, inputs.Get("sample"));
  EASEL_ASSIGN_OR_RETURN(torch::Tensor timestep, inputs.Get("timestep"));
  EASEL_ASSIGN_OR_RETURN(torch::Tensor context, inputs.Get("encoder_hidden_states"));
  models::UNetAddedConditions added{.text_embeds = inputs.GetOrUndefined("text_embeds"),
                                    .time_ids = inputs.GetOrUndefined("time_ids")};
  return TensorMap{{"sample", unet->forward(sample, timestep, context, added)}};
}

absl::StatusOr<TensorMap> RunTextEncoder(const ComponentForwardOptions& options,
                                         const Inputs& inputs, torch::Device device,
                                         torch::Dtype dtype) {
  EASEL_ASSIGN_OR_RETURN(models::CLIPTextModel encoder, models::LoadTextEncoder(options.dir));
  EASEL_RETURN_IF_ERROR(ApplyLora(options.lora, "text_encoder", *encoder));
  encoder->to(device, dtype);
  encoder->eval();
  EASEL_ASSIGN_OR_RETURN(torch::Tensor input_ids, inputs.Get("input_ids"));
  models::CLIPTextOutput out = encoder->forward(input_ids.to(torch::kLong));
  TensorMap outputs{{"last_hidden_state", out.last_hidden_state},
                    {"pooler_output", out.pooler_output},
                    {"penultimate_hidden_state", out.hidden_states[out.hidden_states.size() - 2]}};
  if (out.text_embeds.defined()) outputs["text_embeds"] = out.text_embeds;
  for (size_t i = 0; i < out.hidden_states.size(); ++i) {
    outputs[absl::StrCat("hidden_state_", i)] = out.hidden_states[i];
  }
  return outputs;
}

absl::StatusOr<TensorMap> RunVae(const ComponentForwardOptions& options, const Inputs& inputs,
                                 torch::Device device, torch::Dtype dtype) {
  EASEL_ASSIGN_OR_RETURN(models::AutoencoderKL vae, models::LoadVae(options.dir));
  vae->to(device, dtype);
  vae->eval();
  EASEL_ASSIGN_OR_RETURN(torch::Tensor pixels, inputs.Get("pixels"));
  EASEL_ASSIGN_OR_RETURN(torch::Tensor latents, inputs.Get("latents"));
  models::LatentDistribution latent = vae->Encode(pixels);
  return TensorMap{{"latent_mean", latent.mean},
                   {"latent_logvar", latent.logvar},
                   {"decoded", vae->Decode(latents)}};
}

absl::Status RunUnchecked(const ComponentForwardOptions& options) {
  EASEL_ASSIGN_OR_RETURN(torch::Dtype dtype, ParseDtype(options.dtype));
  EASEL_ASSIGN_OR_RETURN(torch::Device device, ParseDevice(options.device));
  compat::SetAllowTf32(false);
  EASEL_RETURN_IF_ERROR(compat::SetAttentionBackend(options.attention_backend));
  EASEL_ASSIGN_OR_RETURN(TensorMap tensors, models::LoadSafetensors(options.inputs));
  Inputs inputs(std::move(tensors), device, dtype);
  torch::NoGradGuard no_grad;
  absl::StatusOr<TensorMap> outputs;
  if (options.component == "unet") {
    outputs = RunUNet(options, inputs, device, dtype);
  } else if (options.component == "text_encoder") {
    outputs = RunTextEncoder(options, inputs, device, dtype);
  } else if (options.component == "vae") {
    outputs = RunVae(options, inputs, device, dtype);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--component must be unet, text_encoder or vae, got \"", options.component, "\""));
  }
  if (!outputs.ok()) return outputs.status();
  TensorMap as_float;
  for (auto& [name, tensor] : *outputs) {
    as_float[name] = tensor.to(torch::kCPU, torch::kFloat32).contiguous();
  }
  return models::SaveSafetensors(options.output, as_float);
}

}  // namespace

absl::Status RunComponentForward(const ComponentForwardOptions& options) {
  try {
    return RunUnchecked(options);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(options.component, " forward: ", e.what()));
  }
}

}  // namespace easel::parity
