#include "trainer/sampling/sample_images.h"

#include <algorithm>
#include <exception>
#include <memory>
#include <optional>
#include <utility>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace easel::sampling {
namespace {

// For its lifetime, a module is in eval mode on `device`; afterwards its device and each
// submodule's train/eval flag are what they were.
class ModuleScope {
 public:
  ModuleScope(std::shared_ptr<torch::nn::Module> module, torch::Device device)
      : module_(std::move(module)) {
    for (const auto& sub : module_->modules()) flags_.emplace_back(sub, sub->is_training());
    std::vector<torch::Tensor> parameters = module_->parameters();
    if (!parameters.empty()) original_device_ = parameters.front().device();
    module_->eval();
    module_->to(device);
  }
  ~ModuleScope() {
    try {
      if (original_device_) module_->to(*original_device_);
      // modules() lists parents before children, and train() recurses: restore in that order.
      for (const auto& [sub, training] : flags_) sub->train(training);
    } catch (const std::exception&) {
      // Nothing sensible to do in a destructor; the module keeps its sampling placement.
    }
  }
  ModuleScope(const ModuleScope&) = delete;
  ModuleScope& operator=(const ModuleScope&) = delete;

 private:
  std::shared_ptr<torch::nn::Module> module_;
  std::vector<std::pair<std::shared_ptr<torch::nn::Module>, bool>> flags_;
  std::optional<torch::Device> original_device_;
};

torch::Dtype ParameterDtype(const torch::nn::Module& module) {
  std::vector<torch::Tensor> parameters = module.parameters();
  return parameters.empty() ? torch::kFloat32 : parameters.front().scalar_type();
}

struct PromptEmbeddings {
  torch::Tensor hidden_states;  // [N, L, D]
  torch::Tensor text_embeds;    // SDXL: [N, P]

  PromptEmbeddings Row(int64_t i) const {
    return {hidden_states.slice(0, i, i + 1),
            text_embeds.defined() ? text_embeds.slice(0, i, i + 1) : text_embeds};
  }
  PromptEmbeddings Zeros() const {
    return {torch::zeros_like(hidden_states),
            text_embeds.defined() ? torch::zeros_like(text_embeds) : text_embeds};
  }
};

PromptEmbeddings Concat(const PromptEmbeddings& a, const PromptEmbeddings& b) {
  return {torch::cat({a.hidden_states, b.hidden_states}),
          a.text_embeds.defined() ? torch::cat({a.text_embeds, b.text_embeds}) : a.text_embeds};
}

torch::Tensor TokenIds(const tokenizer::CLIPTokenizer& tokenizer,
                       const models::CLIPTextModel& encoder, const std::vector<std::string>& texts,
                       torch::Device device) {
  const int max_length = static_cast<int>(
      std::min<int64_t>(tokenizer.model_max_length(), encoder->config().max_position_embeddings));
  std::vector<torch::Tensor> rows;
  for (const std::string& text : texts) {
    rows.push_back(torch::tensor(tokenizer.EncodePadded(text, max_length), torch::kLong));
  }
  return torch::stack(rows).to(device);
}

torch::Tensor Penultimate(const models::CLIPTextOutput& output) {
  return output.hidden_states.at(output.hidden_states.size() - 2);
}

// SD 1.x/2.x: last_hidden_state. SDXL: both encoders' penultimate hidden states side by side,
// and text_encoder_2's projected pooled output.
PromptEmbeddings EncodePrompts(const models::DiffusersModel& model,
                               const std::vector<std::string>& texts, torch::Device device) {
  models::CLIPTextModel first = model.text_encoder;
  models::CLIPTextOutput first_out =
      first->forward(TokenIds(*model.tokenizer, first, texts, device));
  if (model.text_encoder_2.is_empty()) return {first_out.last_hidden_state, {}};
  models::CLIPTextModel second = model.text_encoder_2;
  const tokenizer::CLIPTokenizer& tokenizer_2 =
      model.tokenizer_2 ? *model.tokenizer_2 : *model.tokenizer;
  models::CLIPTextOutput second_out = second->forward(TokenIds(tokenizer_2, second, texts, device));
  TORCH_CHECK(second_out.text_embeds.defined(),
              "text_encoder_2 has no text_projection (SDXL needs CLIPTextModelWithProjection)");
  return {torch::cat({Penultimate(first_out),
                      Penultimate(second_out).to(first_out.last_hidden_state.scalar_type())},
                     -1),
          second_out.text_embeds};
}

// StableDiffusionXLPipeline's config flag, true unless model_index.json says otherwise.
bool ForceZerosForEmptyPrompt(const models::DiffusersModel& model) {
  const nlohmann::json& index = model.model_index;
  if (!index.is_object() || !index.contains("force_zeros_for_empty_prompt")) return true;
  const nlohmann::json& flag = index["force_zeros_for_empty_prompt"];
  return !flag.is_boolean() || flag.get<bool>();
}

absl::Status CheckModel(const models::DiffusersModel& model) {
  if (model.unet.is_empty() || model.text_encoder.is_empty() || model.vae.is_empty() ||
      !model.tokenizer) {
    return absl::FailedPreconditionError(
        "sampling needs a loaded unet, text_encoder, vae and tokenizer");
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Resolution(const models::DiffusersModel& model,
                                   const SampleOptions& options, int64_t vae_factor) {
  const int64_t unet_factor = int64_t{1} << (model.unet->config().down_block_types.size() - 1);
  const int64_t multiple = vae_factor * unet_factor;
  const int64_t resolution =
      options.resolution == 0 ? model.unet->config().sample_size * vae_factor : options.resolution;
  if (resolution <= 0 || resolution % multiple != 0) {
    return absl::InvalidArgumentError(absl::StrCat("resolution must be a positive multiple of ",
                                                   multiple, " for this model, got ",
                                                   options.resolution));
  }
  return resolution;
}

struct Job {
  const models::DiffusersModel& model;
  const SampleOptions& options;
  const Sampler& sampler;
  int64_t resolution;
  int64_t vae_factor;
};

std::vector<torch::Tensor> Denoise(const Job& job, const PromptEmbeddings& cond,
                                   const PromptEmbeddings& uncond) {
  const SampleOptions& options = job.options;
  const bool guided = options.guidance_scale > 1;
  models::UNet2DConditionModel unet = job.model.unet;
  ModuleScope scope(unet.ptr(), options.device);
  const torch::Dtype unet_dtype = ParameterDtype(*unet);
  const int64_t prompts = static_cast<int64_t>(options.prompts.size());
  const int64_t latent_size = job.resolution / job.vae_factor;
  at::Generator generator = at::detail::createCPUGenerator(options.seed);
  torch::Tensor noise = torch::randn(
      {prompts, unet->config().in_channels, latent_size, latent_size}, generator, torch::kFloat32);
  const double size = static_cast<double>(job.resolution);
  torch::Tensor time_ids = torch::tensor({size, size, 0.0, 0.0, size, size}, torch::kFloat32)
                               .view({1, 6})
                               .to(options.device, unet_dtype);

  std::vector<torch::Tensor> latents_out;
  for (int64_t i = 0; i < prompts; ++i) {
    PromptEmbeddings text = guided ? Concat(uncond, cond.Row(i)) : cond.Row(i);
    const int64_t batch = text.hidden_states.size(0);
    torch::Tensor hidden_states = text.hidden_states.to(unet_dtype);
    models::UNetAddedConditions added;
    if (text.text_embeds.defined()) {
      added = {text.text_embeds.to(unet_dtype), time_ids.repeat({batch, 1})};
    }
    torch::Tensor latents =
        noise.slice(0, i, i + 1).to(options.device, options.dtype) * job.sampler.init_noise_sigma();
    for (int64_t step = 0; step < job.sampler.num_steps(); ++step) {
      torch::Tensor input = guided ? torch::cat({latents, latents}) : latents;
      input = job.sampler.ScaleModelInput(input, step).to(unet_dtype);
      torch::Tensor t = job.sampler.timesteps()[step].to(options.device);
      torch::Tensor prediction = unet->forward(input, t, hidden_states, added).to(options.dtype);
      if (guided) {
        std::vector<torch::Tensor> halves = prediction.chunk(2);
        prediction = halves[0] + options.guidance_scale * (halves[1] - halves[0]);
      }
      latents = job.sampler.Step(prediction, step, latents).prev_sample;
    }
    latents_out.push_back(latents);
  }
  return latents_out;
}

std::vector<torch::Tensor> Decode(const Job& job, const std::vector<torch::Tensor>& latents) {
  models::AutoencoderKL vae = job.model.vae;
  ModuleScope scope(vae.ptr(), job.options.device);
  const torch::Dtype vae_dtype = ParameterDtype(*vae);
  std::vector<torch::Tensor> images;
  for (const torch::Tensor& latent : latents) {
    torch::Tensor pixels = vae->Decode((latent / vae->scaling_factor()).to(vae_dtype));
    pixels = (pixels / 2 + 0.5).clamp(0, 1).to(torch::kCPU, torch::kFloat32);
    images.push_back((pixels[0].permute({1, 2, 0}) * 255).round().to(torch::kUInt8).contiguous());
  }
  return images;
}

absl::StatusOr<std::vector<torch::Tensor>> Generate(const models::DiffusersModel& model,
                                                    const SampleOptions& options) {
  torch::NoGradGuard no_grad;
  EASEL_ASSIGN_OR_RETURN(
      std::unique_ptr<Sampler> sampler,
      MakeSampler(options.sampler, model.scheduler_config, options.num_inference_steps));
  const int64_t vae_factor = int64_t{1} << (model.vae->config().block_out_channels.size() - 1);
  EASEL_ASSIGN_OR_RETURN(int64_t resolution, Resolution(model, options, vae_factor));

  PromptEmbeddings cond, uncond;
  {
    ModuleScope first(model.text_encoder.ptr(), options.device);
    std::optional<ModuleScope> second;
    if (!model.text_encoder_2.is_empty())
      second.emplace(model.text_encoder_2.ptr(), options.device);
    cond = EncodePrompts(model, options.prompts, options.device);
    const bool zero_uncond = !model.text_encoder_2.is_empty() && options.negative_prompt.empty() &&
                             ForceZerosForEmptyPrompt(model);
    if (options.guidance_scale > 1) {
      uncond = zero_uncond ? cond.Row(0).Zeros()
                           : EncodePrompts(model, {options.negative_prompt}, options.device);
    }
  }
  Job job{model, options, *sampler, resolution, vae_factor};
  std::vector<torch::Tensor> latents = Denoise(job, cond, uncond);
  return Decode(job, latents);
}

}  // namespace

absl::StatusOr<std::vector<torch::Tensor>> GenerateSamples(const models::DiffusersModel& model,
                                                           const SampleOptions& options) {
  EASEL_RETURN_IF_ERROR(CheckModel(model));
  if (options.prompts.empty()) {
    return absl::InvalidArgumentError("prompts: at least one prompt is needed");
  }
  try {
    return Generate(model, options);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("generating samples: ", e.what()));
  }
}

}  // namespace easel::sampling
