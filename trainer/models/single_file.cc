#include "trainer/models/single_file.h"

#include <memory>
#include <unordered_map>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "trainer/models/single_file_source.h"
#include "trainer/models/weights.h"

namespace easel::models {
namespace {

using single_file_internal::CheckpointTensors;

constexpr char kUNetPrefix[] = "model.diffusion_model.";
constexpr char kSd1TextPrefix[] = "cond_stage_model.transformer.";
constexpr char kSd2TextPrefix[] = "cond_stage_model.model.";
constexpr char kSdxlTextPrefix[] = "conditioner.embedders.0.transformer.";
constexpr char kSdxlText2Prefix[] = "conditioner.embedders.1.model.";

absl::StatusOr<SingleFileArchitecture> Detect(const CheckpointTensors& source) {
  if (!source.HasPrefix(kUNetPrefix)) {
    return absl::InvalidArgumentError(
        "single-file checkpoint: no model.diffusion_model.* tensors, so this is not a Stable "
        "Diffusion 1.x / 2.x / SDXL checkpoint in the original key names (a LoRA, a lone "
        "UNet or VAE, or a file in diffusers names?)");
  }
  if (source.HasPrefix(kSdxlText2Prefix)) return SingleFileArchitecture::kSdxl;
  if (source.HasPrefix("conditioner.embedders.0.model.")) {
    return absl::UnimplementedError(
        "single-file checkpoint: an SDXL refiner (OpenCLIP bigG only, under "
        "conditioner.embedders.0.model.) is not supported");
  }
  if (source.HasPrefix("conditioner.embedders.")) return SingleFileArchitecture::kSdxl;
  if (source.HasPrefix(kSd2TextPrefix)) return SingleFileArchitecture::kSd2;
  if (source.HasPrefix(kSd1TextPrefix)) return SingleFileArchitecture::kSd1;
  // No text encoder: tell by the UNet; the conversion then names the missing text tensors.
  if (source.HasPrefix(absl::StrCat(kUNetPrefix, "label_emb."))) {
    return SingleFileArchitecture::kSdxl;
  }
  auto proj_in = source.Peek(absl::StrCat(kUNetPrefix, "middle_block.1.proj_in.weight"),
                             "to detect the architecture");
  if (proj_in.ok() && proj_in->dim() == 2) return SingleFileArchitecture::kSd2;
  return SingleFileArchitecture::kSd1;
}

absl::Status CheckCrossAttention(const SingleFileComponents& components) {
  int64_t text_width = components.text_encoder_config.hidden_size;
  if (components.text_encoder_2_config) {
    text_width += components.text_encoder_2_config->hidden_size;
  }
  if (components.unet_config.cross_attention_dim == text_width) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "single-file checkpoint: the unet attends to ", components.unet_config.cross_attention_dim,
      "-wide text states but the text encoder",
      components.text_encoder_2_config ? "s give " : " gives ", text_width));
}

absl::StatusOr<SingleFileComponents> ConvertUnchecked(
    std::map<std::string, torch::Tensor> tensors) {
  CheckpointTensors source(std::move(tensors));
  SingleFileComponents components;
  EASEL_ASSIGN_OR_RETURN(components.architecture, Detect(source));
  single_file_internal::UNetRules rules;
  double scaling_factor = 0.18215;
  int64_t image_size = 512;
  switch (components.architecture) {
    case SingleFileArchitecture::kSd1: {
      EASEL_ASSIGN_OR_RETURN(auto text,
                             single_file_internal::ConvertClipTextEncoder(source, kSd1TextPrefix));
      components.text_encoder_config = text.config;
      components.text_encoder = std::move(text.tensors);
      break;
    }
    case SingleFileArchitecture::kSd2: {
      EASEL_ASSIGN_OR_RETURN(auto text, single_file_internal::ConvertOpenClipTextEncoder(
                                            source, kSd2TextPrefix, /*penultimate=*/true,
                                            /*with_projection=*/false));
      components.text_encoder_config = text.config;
      components.text_encoder = std::move(text.tensors);
      rules.eight_heads = false;
      image_size = 768;
      break;
    }
    case SingleFileArchitecture::kSdxl: {
      EASEL_ASSIGN_OR_RETURN(auto text,
                             single_file_internal::ConvertClipTextEncoder(source, kSdxlTextPrefix));
      components.text_encoder_config = text.config;
      components.text_encoder = std::move(text.tensors);
      EASEL_ASSIGN_OR_RETURN(auto text_2, single_file_internal::ConvertOpenClipTextEncoder(
                                              source, kSdxlText2Prefix, /*penultimate=*/false,
                                              /*with_projection=*/true));
      components.text_encoder_2_config = text_2.config;
      components.text_encoder_2 = std::move(text_2.tensors);
      rules.eight_heads = false;
      rules.text_time_embedding = true;
      rules.pooled_text_dim = text_2.config.projection_dim;
      scaling_factor = 0.13025;
      image_size = 1024;
      break;
    }
  }
  EASEL_ASSIGN_OR_RETURN(auto unet, single_file_internal::ConvertUNet(source, rules));
  EASEL_ASSIGN_OR_RETURN(auto vae,
                         single_file_internal::ConvertVae(source, scaling_factor, image_size));
  const int64_t vae_scale = int64_t{1} << (vae.config.block_out_channels.size() - 1);
  unet.config.sample_size = image_size / vae_scale;
  components.unet_config = std::move(unet.config);
  components.unet = std::move(unet.tensors);
  components.vae_config = std::move(vae.config);
  components.vae = std::move(vae.tensors);
  EASEL_RETURN_IF_ERROR(CheckCrossAttention(components));
  components.unused_keys = source.UnusedKeys();
  return components;
}

absl::Status UseTokenizerIds(const tokenizer::CLIPTokenizer& tokenizer,
                             const std::filesystem::path& dir, CLIPTextConfig& config) {
  if (tokenizer.vocab_size() > config.vocab_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer in ", dir.string(), " has ", tokenizer.vocab_size(),
                     " tokens but the checkpoint's text encoder has ", config.vocab_size));
  }
  config.bos_token_id = tokenizer.bos_id();
  config.eos_token_id = tokenizer.eos_id();
  config.pad_token_id = tokenizer.pad_id();
  return absl::OkStatus();
}

absl::Status LoadTokenizers(const std::filesystem::path& tokenizer_dir,
                            SingleFileComponents& components, DiffusersModel& model) {
  const bool diffusers_layout = std::filesystem::exists(tokenizer_dir / "tokenizer" / "vocab.json");
  const std::filesystem::path first =
      diffusers_layout ? tokenizer_dir / "tokenizer" : tokenizer_dir;
  EASEL_ASSIGN_OR_RETURN(auto tokenizer, tokenizer::CLIPTokenizer::FromDirectory(first));
  EASEL_RETURN_IF_ERROR(UseTokenizerIds(tokenizer, first, components.text_encoder_config));
  model.tokenizer = std::make_shared<tokenizer::CLIPTokenizer>(std::move(tokenizer));
  if (!components.text_encoder_2_config) return absl::OkStatus();
  const bool own_second =
      diffusers_layout && std::filesystem::exists(tokenizer_dir / "tokenizer_2" / "vocab.json");
  const std::filesystem::path second = own_second ? tokenizer_dir / "tokenizer_2" : first;
  // Without its own tokenizer_2/, SDXL's second tokenizer is the first one padding with "!".
  absl::StatusOr<tokenizer::CLIPTokenizer> tokenizer_2 =
      own_second ? tokenizer::CLIPTokenizer::FromDirectory(second)
                 : model.tokenizer->WithPadToken("!");
  if (!tokenizer_2.ok()) return tokenizer_2.status();
  EASEL_RETURN_IF_ERROR(UseTokenizerIds(*tokenizer_2, second, *components.text_encoder_2_config));
  model.tokenizer_2 = std::make_shared<tokenizer::CLIPTokenizer>(std::move(*tokenizer_2));
  return absl::OkStatus();
}

nlohmann::json SchedulerConfig() {
  return {{"_class_name", "DDPMScheduler"},
          {"num_train_timesteps", 1000},
          {"beta_start", 0.00085},
          {"beta_end", 0.012},
          {"beta_schedule", "scaled_linear"},
          {"prediction_type", "epsilon"},
          {"clip_sample", false},
          {"set_alpha_to_one", false},
          {"steps_offset", 1},
          {"timestep_spacing", "leading"}};
}

nlohmann::json ModelIndex(const std::filesystem::path& file, bool sdxl) {
  nlohmann::json index = {
      {"_class_name", sdxl ? "StableDiffusionXLPipeline" : "StableDiffusionPipeline"},
      {"_name_or_path", file.filename().string()},
      {"scheduler", {"diffusers", "DDPMScheduler"}},
      {"text_encoder", {"transformers", "CLIPTextModel"}},
      {"tokenizer", {"transformers", "CLIPTokenizer"}},
      {"unet", {"diffusers", "UNet2DConditionModel"}},
      {"vae", {"diffusers", "AutoencoderKL"}}};
  if (sdxl) {
    index["text_encoder_2"] = {"transformers", "CLIPTextModelWithProjection"};
    index["tokenizer_2"] = {"transformers", "CLIPTokenizer"};
  }
  return index;
}

// Builds a module from its config and loads its converted tensors, which it then releases.
template <typename Module, typename Config>
absl::StatusOr<Module> Build(const Config& config, std::map<std::string, torch::Tensor>& tensors,
                             const std::string& what) {
  Module module(config);
  EASEL_RETURN_IF_ERROR(LoadStateDict(*module, tensors, what));
  tensors.clear();
  return module;
}

absl::StatusOr<DiffusersModel> LoadUnchecked(const std::filesystem::path& file,
                                             const std::filesystem::path& tokenizer_dir,
                                             std::vector<std::string>* unused_keys) {
  EASEL_ASSIGN_OR_RETURN(auto tensors, LoadSafetensors(file));
  absl::StatusOr<SingleFileComponents> converted = ConvertSingleFile(std::move(tensors));
  if (!converted.ok()) {
    return absl::Status(converted.status().code(),
                        absl::StrCat(file.string(), ": ", converted.status().message()));
  }
  SingleFileComponents& components = *converted;
  DiffusersModel model;
  model.dir = file;
  EASEL_RETURN_IF_ERROR(LoadTokenizers(tokenizer_dir, components, model));
  const std::string from = absl::StrCat(" (converted from ", file.string(), ")");
  EASEL_ASSIGN_OR_RETURN(model.unet, (Build<UNet2DConditionModel>(components.unet_config,
                                                                  components.unet, "unet" + from)));
  EASEL_ASSIGN_OR_RETURN(
      model.vae, (Build<AutoencoderKL>(components.vae_config, components.vae, "vae" + from)));
  EASEL_ASSIGN_OR_RETURN(model.text_encoder,
                         (Build<CLIPTextModel>(components.text_encoder_config,
                                               components.text_encoder, "text_encoder" + from)));
  if (components.text_encoder_2_config) {
    EASEL_ASSIGN_OR_RETURN(
        model.text_encoder_2,
        (Build<CLIPTextModel>(*components.text_encoder_2_config, components.text_encoder_2,
                              "text_encoder_2" + from)));
  }
  model.scheduler_config = SchedulerConfig();
  model.model_index = ModelIndex(file, components.architecture == SingleFileArchitecture::kSdxl);
  if (unused_keys != nullptr) *unused_keys = std::move(components.unused_keys);
  return model;
}

}  // namespace

std::string_view SingleFileArchitectureName(SingleFileArchitecture architecture) {
  switch (architecture) {
    case SingleFileArchitecture::kSd1:
      return "sd1";
    case SingleFileArchitecture::kSd2:
      return "sd2";
    case SingleFileArchitecture::kSdxl:
      return "sdxl";
  }
  return "unknown";
}

absl::StatusOr<SingleFileComponents> ConvertSingleFile(
    std::map<std::string, torch::Tensor> tensors) {
  try {
    return ConvertUnchecked(std::move(tensors));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("converting single-file checkpoint: ", e.what()));
  }
}

absl::StatusOr<DiffusersModel> LoadSingleFileCheckpoint(const std::filesystem::path& file,
                                                        const std::filesystem::path& tokenizer_dir,
                                                        std::vector<std::string>* unused_keys) {
  try {
    return LoadUnchecked(file, tokenizer_dir, unused_keys);
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("loading single-file checkpoint ", file.string(), ": ", e.what()));
  }
}

}  // namespace easel::models
