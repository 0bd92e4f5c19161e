#include "trainer/models/diffusers_model.h"

#include <fstream>
#include <set>
#include <sstream>
#include <type_traits>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/remove_tree.h"
#include "common/status_macros.h"
#include "trainer/models/weights.h"

namespace easel::models {
namespace {

absl::StatusOr<nlohmann::json> ReadJson(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("missing ", path.string()));
  std::stringstream buffer;
  buffer << in.rdbuf();
  nlohmann::json json = nlohmann::json::parse(buffer.str(), nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), " is not a JSON object"));
  }
  return json;
}

absl::Status WriteJson(const std::filesystem::path& path, const nlohmann::json& json) {
  std::ofstream out(path, std::ios::trunc);
  out << json.dump(2) << "\n";
  out.flush();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, torch::Tensor>> LoadShards(
    const std::filesystem::path& index_path) {
  EASEL_ASSIGN_OR_RETURN(nlohmann::json index, ReadJson(index_path));
  if (!index.contains("weight_map") || !index["weight_map"].is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(index_path.string(), " has no weight_map"));
  }
  std::set<std::string> shards;
  for (const auto& [name, shard] : index["weight_map"].items()) {
    if (!shard.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(index_path.string(), ": weight_map entry \"", name, "\" is not a string"));
    }
    shards.insert(shard.get<std::string>());
  }
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& shard : shards) {
    EASEL_ASSIGN_OR_RETURN(auto part, LoadSafetensors(index_path.parent_path() / shard));
    tensors.merge(part);
  }
  return tensors;
}

// The component's weights: single file, sharded index, or fp16 variant, in that order.
absl::StatusOr<std::map<std::string, torch::Tensor>> LoadComponentWeights(
    const std::filesystem::path& dir) {
  for (const char* stem : {"diffusion_pytorch_model", "model"}) {
    const auto single = dir / absl::StrCat(stem, ".safetensors");
    if (std::filesystem::exists(single)) return LoadSafetensors(single);
    const auto index = dir / absl::StrCat(stem, ".safetensors.index.json");
    if (std::filesystem::exists(index)) return LoadShards(index);
  }
  for (const char* stem : {"diffusion_pytorch_model", "model"}) {
    const auto variant = dir / absl::StrCat(stem, ".fp16.safetensors");
    if (std::filesystem::exists(variant)) return LoadSafetensors(variant);
  }
  return absl::NotFoundError(absl::StrCat(
      "no safetensors weights in ", dir.string(),
      " (expected diffusion_pytorch_model.safetensors or model.safetensors; .bin is not supported)"));
}

template <typename Module>
absl::Status LoadComponent(const std::filesystem::path& dir, Module& module, const char* what) {
  EASEL_ASSIGN_OR_RETURN(auto tensors, LoadComponentWeights(dir));
  if constexpr (std::is_same_v<Module, AutoencoderKL>) RenameLegacyVaeAttention(tensors);
  if constexpr (std::is_same_v<Module, CLIPTextModel>) AddTextModelPrefix(tensors);
  return LoadStateDict(*module, tensors, absl::StrCat(what, " (", dir.string(), ")"));
}

template <typename Module, typename Config>
absl::StatusOr<Module> LoadComponentUnchecked(const std::filesystem::path& dir,
                                              const char* what) {
  EASEL_ASSIGN_OR_RETURN(nlohmann::json json, ReadJson(dir / "config.json"));
  EASEL_ASSIGN_OR_RETURN(Config config, Config::FromJson(json));
  Module module(config);
  EASEL_RETURN_IF_ERROR(LoadComponent(dir, module, what));
  return module;
}

template <typename Module, typename Config>
absl::StatusOr<Module> LoadComponentChecked(const std::filesystem::path& dir, const char* what) {
  try {
    return LoadComponentUnchecked<Module, Config>(dir, what);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("loading ", what, " from ", dir.string(), ": ", e.what()));
  }
}

absl::Status SaveComponent(const std::filesystem::path& dir, const torch::nn::Module& module,
                           const nlohmann::json& config, const char* weights_name,
                           torch::Dtype dtype = torch::kFloat32) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return absl::UnavailableError(absl::StrCat("cannot create ", dir.string()));
  EASEL_RETURN_IF_ERROR(WriteJson(dir / "config.json", config));
  std::map<std::string, torch::Tensor> tensors = StateDict(module);
  for (auto& [name, tensor] : tensors) {
    if (tensor.is_floating_point()) tensor = tensor.to(torch::kCPU, dtype).contiguous();
  }
  return SaveSafetensors(dir / weights_name, tensors, {{"format", "pt"}});
}

absl::Status SaveDiffusersModelUnchecked(const DiffusersModel& model,
                                         const std::filesystem::path& dir, torch::Dtype dtype) {
  EASEL_RETURN_IF_ERROR(WriteJson(dir / "model_index.json", model.model_index));
  std::error_code error;
  std::filesystem::create_directories(dir / "scheduler", error);
  EASEL_RETURN_IF_ERROR(
      WriteJson(dir / "scheduler" / "scheduler_config.json", model.scheduler_config));
  EASEL_RETURN_IF_ERROR(SaveComponent(dir / "unet", *model.unet, model.unet->config().ToJson(),
                                      "diffusion_pytorch_model.safetensors", dtype));
  EASEL_RETURN_IF_ERROR(SaveComponent(dir / "vae", *model.vae, model.vae->config().ToJson(),
                                      "diffusion_pytorch_model.safetensors", dtype));
  EASEL_RETURN_IF_ERROR(SaveComponent(dir / "text_encoder", *model.text_encoder,
                                      model.text_encoder->config().ToJson(), "model.safetensors",
                                      dtype));
  EASEL_RETURN_IF_ERROR(model.tokenizer->Save(dir / "tokenizer"));
  if (model.text_encoder_2) {
    EASEL_RETURN_IF_ERROR(SaveComponent(dir / "text_encoder_2", *model.text_encoder_2,
                                        model.text_encoder_2->config().ToJson(),
                                        "model.safetensors", dtype));
  }
  if (model.tokenizer_2 != nullptr) {
    EASEL_RETURN_IF_ERROR(model.tokenizer_2->Save(dir / "tokenizer_2"));
  }
  return absl::OkStatus();
}

nlohmann::json TinySchedulerConfig() {
  return {{"_class_name", "DDPMScheduler"},
          {"_diffusers_version", "0.21.4"},
          {"num_train_timesteps", 1000},
          {"beta_start", 0.00085},
          {"beta_end", 0.012},
          {"beta_schedule", "scaled_linear"},
          {"prediction_type", "epsilon"},
          {"variance_type", "fixed_small"},
          {"clip_sample", false},
          {"set_alpha_to_one", false},
          {"steps_offset", 1},
          {"timestep_spacing", "leading"},
          {"trained_betas", nullptr}};
}

nlohmann::json ModelIndex(TinyPreset preset) {
  nlohmann::json index = {{"_class_name", "StableDiffusionPipeline"},
                          {"_diffusers_version", "0.21.4"},
                          {"feature_extractor", {nullptr, nullptr}},
                          {"requires_safety_checker", false},
                          {"safety_checker", {nullptr, nullptr}},
                          {"scheduler", {"diffusers", "DDPMScheduler"}},
                          {"text_encoder", {"transformers", "CLIPTextModel"}},
                          {"tokenizer", {"transformers", "CLIPTokenizer"}},
                          {"unet", {"diffusers", "UNet2DConditionModel"}},
                          {"vae", {"diffusers", "AutoencoderKL"}}};
  if (preset == TinyPreset::kTinySdxl) {
    index["_class_name"] = "StableDiffusionXLPipeline";
    index.erase("feature_extractor");
    index.erase("requires_safety_checker");
    index.erase("safety_checker");
    index["text_encoder_2"] = {"transformers", "CLIPTextModelWithProjection"};
    index["tokenizer_2"] = {"transformers", "CLIPTokenizer"};
    index["force_zeros_for_empty_prompt"] = true;
  }
  return index;
}

bool NamesComponent(const nlohmann::json& model_index, const char* component) {
  auto it = model_index.find(component);
  return it != model_index.end() && it->is_array() && it->size() == 2 && !(*it)[0].is_null();
}

absl::StatusOr<DiffusersModel> LoadUnchecked(const std::filesystem::path& dir) {
  DiffusersModel model;
  model.dir = dir;
  EASEL_ASSIGN_OR_RETURN(model.model_index, ReadJson(dir / "model_index.json"));
  EASEL_ASSIGN_OR_RETURN(nlohmann::json unet_json, ReadJson(dir / "unet" / "config.json"));
  EASEL_ASSIGN_OR_RETURN(auto unet_config, UNet2DConditionConfig::FromJson(unet_json));
  EASEL_ASSIGN_OR_RETURN(nlohmann::json text_json, ReadJson(dir / "text_encoder" / "config.json"));
  EASEL_ASSIGN_OR_RETURN(auto text_config, CLIPTextConfig::FromJson(text_json));
  EASEL_ASSIGN_OR_RETURN(nlohmann::json vae_json, ReadJson(dir / "vae" / "config.json"));
  EASEL_ASSIGN_OR_RETURN(auto vae_config, AutoencoderKLConfig::FromJson(vae_json));
  EASEL_ASSIGN_OR_RETURN(model.scheduler_config,
                         ReadJson(dir / "scheduler" / "scheduler_config.json"));
  EASEL_ASSIGN_OR_RETURN(auto tokenizer, tokenizer::CLIPTokenizer::FromDirectory(dir / "tokenizer"));
  model.tokenizer = std::make_shared<tokenizer::CLIPTokenizer>(std::move(tokenizer));
  if (model.tokenizer->vocab_size() > text_config.vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        dir.string(), ": tokenizer has ", model.tokenizer->vocab_size(),
        " tokens but the text encoder's vocab_size is ", text_config.vocab_size));
  }
  model.unet = UNet2DConditionModel(unet_config);
  EASEL_RETURN_IF_ERROR(LoadComponent(dir / "unet", model.unet, "unet"));
  model.text_encoder = CLIPTextModel(text_config);
  EASEL_RETURN_IF_ERROR(LoadComponent(dir / "text_encoder", model.text_encoder, "text_encoder"));
  model.vae = AutoencoderKL(vae_config);
  EASEL_RETURN_IF_ERROR(LoadComponent(dir / "vae", model.vae, "vae"));
  if (NamesComponent(model.model_index, "text_encoder_2")) {
    EASEL_ASSIGN_OR_RETURN(model.text_encoder_2, (LoadComponentUnchecked<CLIPTextModel, CLIPTextConfig>(
                                                     dir / "text_encoder_2", "text_encoder_2")));
    EASEL_ASSIGN_OR_RETURN(auto tokenizer_2,
                           tokenizer::CLIPTokenizer::FromDirectory(dir / "tokenizer_2"));
    model.tokenizer_2 = std::make_shared<tokenizer::CLIPTokenizer>(std::move(tokenizer_2));
  }
  return model;
}

}  // namespace

UNet2DConditionConfig TinyUNetConfig() {
  UNet2DConditionConfig config;
  config.sample_size = 32;
  config.in_channels = 4;
  config.out_channels = 4;
  config.block_out_channels = {32, 64};
  config.layers_per_block = 1;
  config.down_block_types = {"CrossAttnDownBlock2D", "DownBlock2D"};
  config.up_block_types = {"UpBlock2D", "CrossAttnUpBlock2D"};
  config.cross_attention_dim = 32;
  config.attention_head_dim = {2, 2};
  config.norm_num_groups = 32;
  return config;
}

UNet2DConditionConfig TinySdxlUNetConfig() {
  UNet2DConditionConfig config;
  config.sample_size = 32;
  config.block_out_channels = {32, 64};
  config.layers_per_block = 1;
  // Attention at both levels (real SDXL has none at the first) so that a LoRA on the attention
  // layers reaches the full-resolution features of these 32x32-pixel images.
  config.down_block_types = {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D"};
  config.up_block_types = {"CrossAttnUpBlock2D", "CrossAttnUpBlock2D"};
  config.attention_head_dim = {2, 4};
  config.transformer_layers_per_block = {1, 2};
  config.use_linear_projection = true;
  config.cross_attention_dim = TinyTextEncoderConfig().hidden_size +
                               TinySdxlTextEncoder2Config().hidden_size;
  config.addition_embed_type = "text_time";
  config.addition_time_embed_dim = 8;
  config.projection_class_embeddings_input_dim =
      TinySdxlTextEncoder2Config().projection_dim + 6 * config.addition_time_embed_dim;
  config.norm_num_groups = 32;
  return config;
}

CLIPTextConfig TinySdxlTextEncoder2Config() {
  CLIPTextConfig config = TinyTextEncoderConfig();
  config.hidden_act = "gelu";
  config.with_projection = true;
  config.projection_dim = 24;
  return config;
}

absl::StatusOr<TinyPreset> ParseTinyPreset(std::string_view name) {
  if (name == "tiny") return TinyPreset::kTiny;
  if (name == "tiny-sdxl") return TinyPreset::kTinySdxl;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown preset \"", absl::string_view(name.data(), name.size()),
      "\" (the built-in presets are tiny and tiny-sdxl)"));
}

CLIPTextConfig TinyTextEncoderConfig() {
  CLIPTextConfig config;
  config.vocab_size = 514;
  config.hidden_size = 32;
  config.intermediate_size = 64;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.max_position_embeddings = 77;
  config.hidden_act = "quick_gelu";
  config.bos_token_id = 512;
  config.eos_token_id = 513;
  config.pad_token_id = 513;
  config.projection_dim = 32;
  return config;
}

AutoencoderKLConfig TinyVaeConfig() {
  AutoencoderKLConfig config;
  config.block_out_channels = {32, 64};
  config.down_block_types = {"DownEncoderBlock2D", "DownEncoderBlock2D"};
  config.up_block_types = {"UpDecoderBlock2D", "UpDecoderBlock2D"};
  config.layers_per_block = 1;
  config.latent_channels = 4;
  config.norm_num_groups = 32;
  config.sample_size = 64;
  config.scaling_factor = 0.18215;
  return config;
}

absl::StatusOr<UNet2DConditionModel> LoadUNet(const std::filesystem::path& dir) {
  return LoadComponentChecked<UNet2DConditionModel, UNet2DConditionConfig>(dir, "unet");
}

absl::StatusOr<CLIPTextModel> LoadTextEncoder(const std::filesystem::path& dir) {
  return LoadComponentChecked<CLIPTextModel, CLIPTextConfig>(dir, "text encoder");
}

absl::StatusOr<AutoencoderKL> LoadVae(const std::filesystem::path& dir) {
  return LoadComponentChecked<AutoencoderKL, AutoencoderKLConfig>(dir, "vae");
}

absl::StatusOr<DiffusersModel> LoadDiffusersModel(const std::filesystem::path& dir) {
  try {
    return LoadUnchecked(dir);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("loading diffusers model ", dir.string(), ": ", e.what()));
  }
}

absl::Status SaveDiffusersModel(const DiffusersModel& model, const std::filesystem::path& dir,
                                torch::Dtype dtype) {
  if (!model.unet || !model.vae || !model.text_encoder || model.tokenizer == nullptr) {
    return absl::InvalidArgumentError("SaveDiffusersModel: the model lacks a component");
  }
  auto check_vocab = [](const tokenizer::CLIPTokenizer* tokenizer, const CLIPTextModel& encoder,
                        const char* what) -> absl::Status {
    if (tokenizer == nullptr || !encoder) return absl::OkStatus();
    if (tokenizer->vocab_size() > encoder->config().vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "SaveDiffusersModel: ", what, " has ", tokenizer->vocab_size(),
          " tokens but its text encoder's vocab_size is ", encoder->config().vocab_size,
          " (resize the token embeddings after adding tokens)"));
    }
    return absl::OkStatus();
  };
  EASEL_RETURN_IF_ERROR(check_vocab(model.tokenizer.get(), model.text_encoder, "tokenizer"));
  EASEL_RETURN_IF_ERROR(
      check_vocab(model.tokenizer_2.get(), model.text_encoder_2, "tokenizer_2"));
  std::error_code error;
  if (std::filesystem::exists(dir, error)) {
    return absl::AlreadyExistsError(absl::StrCat(dir.string(), " already exists"));
  }
  const std::filesystem::path partial = dir.string() + ".partial";
  easel::RemoveTree(partial).IgnoreError();
  std::filesystem::create_directories(partial, error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", partial.string(), ": ", error.message()));
  }
  absl::Status saved;
  try {
    saved = SaveDiffusersModelUnchecked(model, partial, dtype);
  } catch (const std::exception& e) {
    saved = absl::InternalError(absl::StrCat("writing ", partial.string(), ": ", e.what()));
  }
  if (saved.ok()) {
    std::filesystem::rename(partial, dir, error);
    if (!error) return absl::OkStatus();
    saved = absl::UnavailableError(absl::StrCat("cannot rename ", partial.string(), " to ",
                                                dir.string(), ": ", error.message()));
  }
  easel::RemoveTree(partial).IgnoreError();
  return saved;
}

absl::Status SaveTinyModel(const std::filesystem::path& dir, uint64_t seed, TinyPreset preset) {
  try {
    std::error_code error;
    std::filesystem::create_directories(dir, error);
    if (error) return absl::UnavailableError(absl::StrCat("cannot create ", dir.string()));
    auto generator = at::detail::getDefaultCPUGenerator();
    const at::Tensor saved_state = generator.get_state();
    torch::manual_seed(seed);
    const bool sdxl = preset == TinyPreset::kTinySdxl;
    UNet2DConditionModel unet(sdxl ? TinySdxlUNetConfig() : TinyUNetConfig());
    CLIPTextModel text_encoder(TinyTextEncoderConfig());
    AutoencoderKL vae(TinyVaeConfig());
    CLIPTextModel text_encoder_2{nullptr};
    if (sdxl) text_encoder_2 = CLIPTextModel(TinySdxlTextEncoder2Config());
    generator.set_state(saved_state);

    EASEL_RETURN_IF_ERROR(WriteJson(dir / "model_index.json", ModelIndex(preset)));
    if (sdxl) {
      EASEL_RETURN_IF_ERROR(SaveComponent(dir / "text_encoder_2", *text_encoder_2,
                                          text_encoder_2->config().ToJson(), "model.safetensors"));
      EASEL_RETURN_IF_ERROR(tokenizer::WriteByteLevelTokenizer(dir / "tokenizer_2"));
    }
    EASEL_RETURN_IF_ERROR(SaveComponent(dir / "unet", *unet, unet->config().ToJson(),
                                        "diffusion_pytorch_model.safetensors"));
    EASEL_RETURN_IF_ERROR(SaveComponent(dir / "text_encoder", *text_encoder,
                                        text_encoder->config().ToJson(), "model.safetensors"));
    EASEL_RETURN_IF_ERROR(SaveComponent(dir / "vae", *vae, vae->config().ToJson(),
                                        "diffusion_pytorch_model.safetensors"));
    EASEL_RETURN_IF_ERROR(tokenizer::WriteByteLevelTokenizer(dir / "tokenizer"));
    std::filesystem::create_directories(dir / "scheduler", error);
    return WriteJson(dir / "scheduler" / "scheduler_config.json", TinySchedulerConfig());
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("writing tiny model to ", dir.string(), ": ", e.what()));
  }
}

}  // namespace easel::models
