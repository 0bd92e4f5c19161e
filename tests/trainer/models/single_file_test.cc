#include "trainer/models/single_file.h"

#include <algorithm>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/remove_tree.h"
#include "tests/trainer/models/single_file_test_models.h"
#include "trainer/models/weights.h"
#include "trainer/tokenizer/clip_tokenizer.h"

namespace easel::models {
namespace {

using single_file_test::MakeSd1;
using single_file_test::MakeSd2;
using single_file_test::MakeSdxl;
using single_file_test::Original;
using ::testing::HasSubstr;

// Every converted tensor equals the original module's tensor of the same name, and the
// converted set is exactly what a module of the converted config loads.
void ExpectLandsInPlace(const std::map<std::string, torch::Tensor>& converted,
                        const torch::nn::Module& original, const torch::nn::Module& rebuilt,
                        const std::string& what) {
  const auto expected = StateDict(original);
  std::set<std::string> converted_names, rebuilt_names;
  for (const auto& [name, tensor] : converted) converted_names.insert(name);
  for (const auto& [name, tensor] : StateDict(rebuilt)) rebuilt_names.insert(name);
  EXPECT_EQ(converted_names, rebuilt_names) << what;
  for (const auto& [name, tensor] : converted) {
    auto it = expected.find(name);
    ASSERT_NE(it, expected.end()) << what << ": " << name;
    EXPECT_TRUE(tensor.sizes() == it->second.sizes() && torch::equal(tensor, it->second))
        << what << ": " << name;
  }
}

void ExpectClose(const torch::Tensor& a, const torch::Tensor& b, const std::string& what) {
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  EXPECT_TRUE(torch::allclose(a, b, 1e-5, 1e-5))
      << what << ": max difference " << (a - b).abs().max().item<float>();
}

torch::Tensor InputIds() {
  return torch::tensor(
      {{512, 40, 71, 300, 9, 513, 513, 513}, {512, 200, 513, 513, 513, 513, 513, 513}},
      torch::kLong);
}

template <typename Module, typename Config>
Module Rebuild(const Config& config, const std::map<std::string, torch::Tensor>& tensors,
               const std::string& what) {
  Module module(config);
  absl::Status status = LoadStateDict(*module, tensors, what);
  EXPECT_TRUE(status.ok()) << status;
  return module;
}

void ExpectSameUNet(Original& original, const SingleFileComponents& converted) {
  auto unet = Rebuild<UNet2DConditionModel>(converted.unet_config, converted.unet, "unet");
  ExpectLandsInPlace(converted.unet, *original.unet, *unet, "unet");
  const auto& want = original.unet->config();
  const auto& got = converted.unet_config;
  EXPECT_EQ(got.block_out_channels, want.block_out_channels);
  EXPECT_EQ(got.layers_per_block, want.layers_per_block);
  EXPECT_EQ(got.down_block_types, want.down_block_types);
  EXPECT_EQ(got.up_block_types, want.up_block_types);
  EXPECT_EQ(got.HeadsPerBlock(), want.HeadsPerBlock());
  EXPECT_EQ(got.TransformerLayersPerBlock(), want.TransformerLayersPerBlock());
  EXPECT_EQ(got.use_linear_projection, want.use_linear_projection);
  EXPECT_EQ(got.cross_attention_dim, want.cross_attention_dim);
  EXPECT_EQ(got.addition_embed_type, want.addition_embed_type);
  EXPECT_EQ(got.addition_time_embed_dim, want.addition_time_embed_dim);
  EXPECT_EQ(got.projection_class_embeddings_input_dim, want.projection_class_embeddings_input_dim);

  torch::NoGradGuard no_grad;
  torch::Tensor sample = torch::randn({2, 4, 8, 8});
  torch::Tensor timesteps = torch::tensor({10, 700}, torch::kLong);
  torch::Tensor context = torch::randn({2, 7, want.cross_attention_dim});
  UNetAddedConditions added;
  if (!want.addition_embed_type.empty()) {
    added.text_embeds = torch::randn(
        {2, want.projection_class_embeddings_input_dim - 6 * want.addition_time_embed_dim});
    added.time_ids = torch::tensor({{64., 64., 0., 0., 64., 64.}, {32., 48., 4., 8., 64., 64.}});
  }
  ExpectClose(unet(sample, timesteps, context, added),
              original.unet(sample, timesteps, context, added), "unet forward");
}

void ExpectSameVae(Original& original, const SingleFileComponents& converted) {
  auto vae = Rebuild<AutoencoderKL>(converted.vae_config, converted.vae, "vae");
  ExpectLandsInPlace(converted.vae, *original.vae, *vae, "vae");
  EXPECT_EQ(converted.vae_config.block_out_channels, original.vae->config().block_out_channels);
  EXPECT_EQ(converted.vae_config.layers_per_block, original.vae->config().layers_per_block);
  EXPECT_EQ(converted.vae_config.latent_channels, original.vae->config().latent_channels);
  torch::NoGradGuard no_grad;
  torch::Tensor pixels = torch::rand({1, 3, 16, 16}) * 2 - 1;
  LatentDistribution got = vae->Encode(pixels);
  LatentDistribution want = original.vae->Encode(pixels);
  ExpectClose(got.mean, want.mean, "vae encode mean");
  ExpectClose(got.logvar, want.logvar, "vae encode logvar");
  torch::Tensor latents = torch::randn(want.mean.sizes());
  ExpectClose(vae->Decode(latents), original.vae->Decode(latents), "vae decode");
}

// The converted encoder may keep fewer layers than the original (SD 2.x: all but the last).
void ExpectSameText(CLIPTextModel& original, const CLIPTextConfig& config,
                    const std::map<std::string, torch::Tensor>& tensors, const std::string& what) {
  auto text = Rebuild<CLIPTextModel>(config, tensors, what);
  ExpectLandsInPlace(tensors, *original, *text, what);
  EXPECT_EQ(config.hidden_size, original->config().hidden_size) << what;
  EXPECT_EQ(config.num_attention_heads, original->config().num_attention_heads) << what;
  EXPECT_EQ(config.intermediate_size, original->config().intermediate_size) << what;
  EXPECT_EQ(config.hidden_act, original->config().hidden_act) << what;
  EXPECT_EQ(config.eos_token_id, original->config().eos_token_id) << what;
  torch::NoGradGuard no_grad;
  CLIPTextOutput got = text(InputIds());
  CLIPTextOutput want = original(InputIds());
  const int64_t layers = config.num_hidden_layers;
  ASSERT_EQ(got.hidden_states.size(), static_cast<size_t>(layers + 1)) << what;
  for (int64_t i = 0; i <= layers; ++i) {
    ExpectClose(got.hidden_states[i], want.hidden_states[i], what + " hidden state");
  }
  // The converted model's output is the final norm of its last kept layer (SD 2.x: the
  // original's penultimate layer).
  ExpectClose(got.last_hidden_state, original->final_layer_norm()(want.hidden_states[layers]),
              what + " last_hidden_state");
  if (layers == original->config().num_hidden_layers) {
    ExpectClose(got.pooler_output, want.pooler_output, what + " pooler_output");
  }
  if (config.with_projection) {
    ExpectClose(got.text_embeds, want.text_embeds, what + " text_embeds");
  }
}

std::set<std::string> Unused(const SingleFileComponents& components) {
  return {components.unused_keys.begin(), components.unused_keys.end()};
}

TEST(SingleFileTest, ConvertsSd1) {
  Original original = MakeSd1();
  original.file["model_ema.decay"] = torch::tensor(0.9999);
  original.file["model_ema.diffusion_modelinput_blocks00weight"] = torch::zeros({1});
  auto converted = ConvertSingleFile(original.file);
  ASSERT_TRUE(converted.ok()) << converted.status();
  EXPECT_EQ(converted->architecture, SingleFileArchitecture::kSd1);
  EXPECT_EQ(SingleFileArchitectureName(converted->architecture), "sd1");
  EXPECT_FALSE(converted->text_encoder_2_config.has_value());
  EXPECT_TRUE(converted->text_encoder_2.empty());
  EXPECT_EQ(converted->unet_config.HeadsPerBlock(), (std::vector<int64_t>{8, 8, 8}));
  EXPECT_FALSE(converted->unet_config.use_linear_projection);
  EXPECT_DOUBLE_EQ(converted->vae_config.scaling_factor, 0.18215);
  EXPECT_EQ(
      Unused(*converted),
      (std::set<std::string>{"cond_stage_model.transformer.text_model.embeddings.position_ids",
                             "model_ema.decay", "model_ema.diffusion_modelinput_blocks00weight"}));
  ExpectSameUNet(original, *converted);
  ExpectSameVae(original, *converted);
  ExpectSameText(original.text_encoder, converted->text_encoder_config, converted->text_encoder,
                 "text_encoder");
}

TEST(SingleFileTest, ConvertsSd2DroppingTheLastTextBlock) {
  Original original = MakeSd2();
  auto converted = ConvertSingleFile(original.file);
  ASSERT_TRUE(converted.ok()) << converted.status();
  EXPECT_EQ(converted->architecture, SingleFileArchitecture::kSd2);
  EXPECT_EQ(SingleFileArchitectureName(converted->architecture), "sd2");
  EXPECT_TRUE(converted->unet_config.use_linear_projection);
  EXPECT_EQ(converted->text_encoder_config.num_hidden_layers, 2);
  EXPECT_FALSE(converted->text_encoder_config.with_projection);
  std::set<std::string> expected_unused = {"cond_stage_model.model.text_projection"};
  for (const auto& [key, tensor] : original.file) {
    if (key.rfind("cond_stage_model.model.transformer.resblocks.2.", 0) == 0) {
      expected_unused.insert(key);
    }
  }
  // ln_1, in_proj, out_proj, ln_2, c_fc, c_proj (weight and bias each), text_projection.
  EXPECT_EQ(expected_unused.size(), 13u);
  EXPECT_EQ(Unused(*converted), expected_unused);
  ExpectSameUNet(original, *converted);
  ExpectSameVae(original, *converted);
  ExpectSameText(original.text_encoder, converted->text_encoder_config, converted->text_encoder,
                 "text_encoder");
}

TEST(SingleFileTest, ConvertsSdxl) {
  Original original = MakeSdxl();
  auto converted = ConvertSingleFile(original.file);
  ASSERT_TRUE(converted.ok()) << converted.status();
  EXPECT_EQ(converted->architecture, SingleFileArchitecture::kSdxl);
  EXPECT_EQ(SingleFileArchitectureName(converted->architecture), "sdxl");
  ASSERT_TRUE(converted->text_encoder_2_config.has_value());
  EXPECT_TRUE(converted->text_encoder_2_config->with_projection);
  EXPECT_EQ(converted->text_encoder_2_config->projection_dim, 96);
  EXPECT_EQ(converted->text_encoder_2_config->hidden_act, "gelu");
  EXPECT_EQ(converted->text_encoder_config.hidden_act, "quick_gelu");
  EXPECT_EQ(converted->unet_config.transformer_layers_per_block, (std::vector<int64_t>{1, 1, 2}));
  EXPECT_DOUBLE_EQ(converted->vae_config.scaling_factor, 0.13025);
  EXPECT_EQ(Unused(*converted),
            (std::set<std::string>{
                "conditioner.embedders.0.transformer.text_model.embeddings.position_ids"}));
  // The projection is stored as x @ P, [hidden, projection]; ours is the Linear weight P^T.
  EXPECT_EQ(original.file.at("conditioner.embedders.1.model.text_projection").sizes(),
            (std::vector<int64_t>{128, 96}));
  EXPECT_EQ(converted->text_encoder_2.at("text_projection.weight").sizes(),
            (std::vector<int64_t>{96, 128}));
  ExpectSameUNet(original, *converted);
  ExpectSameVae(original, *converted);
  ExpectSameText(original.text_encoder, converted->text_encoder_config, converted->text_encoder,
                 "text_encoder");
  ExpectSameText(original.text_encoder_2, *converted->text_encoder_2_config,
                 converted->text_encoder_2, "text_encoder_2");
}

TEST(SingleFileTest, SplitsStackedQkvInOrder) {
  Original original = MakeSdxl();
  const auto& stacked =
      original.file.at("conditioner.embedders.1.model.transformer.resblocks.1.attn.in_proj_bias");
  auto converted = ConvertSingleFile(original.file);
  ASSERT_TRUE(converted.ok()) << converted.status();
  const std::string layer = "text_model.encoder.layers.1.self_attn.";
  EXPECT_TRUE(
      torch::equal(converted->text_encoder_2.at(layer + "q_proj.bias"), stacked.slice(0, 0, 128)));
  EXPECT_TRUE(torch::equal(converted->text_encoder_2.at(layer + "k_proj.bias"),
                           stacked.slice(0, 128, 256)));
  EXPECT_TRUE(torch::equal(converted->text_encoder_2.at(layer + "v_proj.bias"),
                           stacked.slice(0, 256, 384)));
}

TEST(SingleFileTest, MissingTensorIsNamed) {
  const Original sd1 = MakeSd1();
  const Original sd2 = MakeSd2();
  const Original sdxl = MakeSdxl();
  const std::pair<const Original*, std::string> cases[] = {
      {&sd1, "model.diffusion_model.output_blocks.2.0.skip_connection.weight"},
      {&sd1, "model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight"},
      {&sd1, "cond_stage_model.transformer.text_model.encoder.layers.1.mlp.fc2.bias"},
      {&sd1, "first_stage_model.decoder.up.0.block.2.conv2.weight"},
      {&sd2, "cond_stage_model.model.transformer.resblocks.1.attn.in_proj_weight"},
      {&sd2, "first_stage_model.encoder.mid.attn_1.proj_out.weight"},
      {&sdxl, "model.diffusion_model.label_emb.0.2.bias"},
      {&sdxl, "model.diffusion_model.output_blocks.2.2.conv.weight"},
      {&sdxl, "conditioner.embedders.1.model.text_projection"},
      {&sdxl, "conditioner.embedders.1.model.ln_final.weight"},
  };
  for (const auto& [original, key] : cases) {
    auto file = original->file;
    ASSERT_EQ(file.erase(key), 1u) << key;
    auto converted = ConvertSingleFile(std::move(file));
    ASSERT_FALSE(converted.ok()) << key;
    EXPECT_EQ(converted.status().code(), absl::StatusCode::kInvalidArgument) << key;
    EXPECT_THAT(std::string(converted.status().message()), HasSubstr("\"" + key + "\"")) << key;
  }
}

TEST(SingleFileTest, UnknownKeysAreReportedAsUnused) {
  Original original = MakeSdxl();
  original.file["conditioner.embedders.1.model.logit_scale"] = torch::tensor(4.6);
  original.file["model.diffusion_model.something_new.weight"] = torch::zeros({3});
  original.file["denoiser.sigmas"] = torch::ones({10});
  auto converted = ConvertSingleFile(original.file);
  ASSERT_TRUE(converted.ok()) << converted.status();
  EXPECT_EQ(Unused(*converted),
            (std::set<std::string>{
                "conditioner.embedders.0.transformer.text_model.embeddings.position_ids",
                "conditioner.embedders.1.model.logit_scale",
                "model.diffusion_model.something_new.weight", "denoiser.sigmas"}));
  EXPECT_TRUE(std::is_sorted(converted->unused_keys.begin(), converted->unused_keys.end()));
}

TEST(SingleFileTest, DetectsArchitectureFromTheKeys) {
  EXPECT_EQ(ConvertSingleFile(MakeSd1().file)->architecture, SingleFileArchitecture::kSd1);
  EXPECT_EQ(ConvertSingleFile(MakeSd2().file)->architecture, SingleFileArchitecture::kSd2);
  EXPECT_EQ(ConvertSingleFile(MakeSdxl().file)->architecture, SingleFileArchitecture::kSdxl);

  // Without text encoders the UNet decides; the error then names the text encoder's tensors.
  std::map<std::string, torch::Tensor> unet_only;
  for (const auto& [key, tensor] : MakeSdxl().file) {
    if (key.rfind("conditioner.", 0) != 0) unet_only[key] = tensor;
  }
  auto converted = ConvertSingleFile(unet_only);
  ASSERT_FALSE(converted.ok());
  EXPECT_THAT(std::string(converted.status().message()),
              HasSubstr("conditioner.embedders.0.transformer.text_model.embeddings."
                        "token_embedding.weight"));

  // Not a Stable Diffusion file at all.
  auto lora = ConvertSingleFile(
      {{"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight", torch::zeros({4, 32})}});
  ASSERT_FALSE(lora.ok());
  EXPECT_EQ(lora.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(lora.status().message()), HasSubstr("model.diffusion_model"));

  // An SDXL refiner (bigG as embedder 0) is refused by name.
  auto refiner_file = MakeSdxl().file;
  refiner_file["conditioner.embedders.0.model.text_projection"] = torch::zeros({128, 96});
  for (auto it = refiner_file.begin(); it != refiner_file.end();) {
    it = it->first.rfind("conditioner.embedders.1.", 0) == 0 ? refiner_file.erase(it)
                                                             : std::next(it);
  }
  auto refiner = ConvertSingleFile(refiner_file);
  ASSERT_FALSE(refiner.ok());
  EXPECT_THAT(std::string(refiner.status().message()), HasSubstr("refiner"));
}

TEST(SingleFileTest, ConvertsHalfPrecisionFilesKeepingTheDtype) {
  Original original = MakeSd1();
  std::map<std::string, torch::Tensor> half;
  for (const auto& [key, tensor] : original.file) {
    half[key] = tensor.is_floating_point() ? tensor.to(torch::kHalf) : tensor;
  }
  auto converted = ConvertSingleFile(half);
  ASSERT_TRUE(converted.ok()) << converted.status();
  EXPECT_EQ(converted->vae.at("encoder.mid_block.attentions.0.to_q.weight").scalar_type(),
            torch::kHalf);
  EXPECT_EQ(converted->vae.at("encoder.mid_block.attentions.0.to_q.weight").dim(), 2);
  auto unet = Rebuild<UNet2DConditionModel>(converted->unet_config, converted->unet, "unet");
  EXPECT_TRUE(torch::equal(
      StateDict(*unet).at("conv_in.weight"),
      original.unet->named_parameters()["conv_in.weight"].to(torch::kHalf).to(torch::kFloat)));
}

class SingleFileLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("single_file_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { easel::RemoveTree(dir_).IgnoreError(); }
  std::filesystem::path dir_;
};

TEST_F(SingleFileLoadTest, LoadsSdxlWithTokenizersFromOneDirectory) {
  Original original = MakeSdxl();
  original.file["model_ema.decay"] = torch::tensor(0.9999);
  ASSERT_TRUE(SaveSafetensors(dir_ / "sd_xl_tiny.safetensors", original.file).ok());
  ASSERT_TRUE(tokenizer::WriteByteLevelTokenizer(dir_ / "tokenizer").ok());
  std::vector<std::string> unused;
  auto model =
      LoadSingleFileCheckpoint(dir_ / "sd_xl_tiny.safetensors", dir_ / "tokenizer", &unused);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(unused, (std::vector<std::string>{
                        "conditioner.embedders.0.transformer.text_model.embeddings.position_ids",
                        "model_ema.decay"}));
  EXPECT_EQ(model->model_index["_class_name"], "StableDiffusionXLPipeline");
  EXPECT_EQ(model->model_index["_name_or_path"], "sd_xl_tiny.safetensors");
  EXPECT_EQ(model->scheduler_config["prediction_type"], "epsilon");
  EXPECT_EQ(model->scheduler_config["beta_schedule"], "scaled_linear");
  ASSERT_NE(model->tokenizer, nullptr);
  ASSERT_NE(model->tokenizer_2, nullptr);
  EXPECT_EQ(model->tokenizer->pad_id(), model->tokenizer->eos_id());
  EXPECT_EQ(model->tokenizer_2->pad_id(), model->tokenizer_2->TokenId("!"));
  EXPECT_EQ(model->tokenizer_2->eos_id(), model->tokenizer->eos_id());
  EXPECT_EQ(model->text_encoder_2->config().pad_token_id, model->tokenizer_2->TokenId("!"));
  ASSERT_TRUE(model->text_encoder_2);
  EXPECT_TRUE(model->text_encoder_2->config().with_projection);

  torch::NoGradGuard no_grad;
  auto ids = torch::tensor(model->tokenizer->EncodePadded("a photo", 8), torch::kLong).unsqueeze(0);
  auto ids_2 =
      torch::tensor(model->tokenizer_2->EncodePadded("a photo", 8), torch::kLong).unsqueeze(0);
  ExpectClose(model->text_encoder(ids).last_hidden_state,
              original.text_encoder(ids).last_hidden_state, "text_encoder");
  ExpectClose(model->text_encoder_2(ids_2).text_embeds, original.text_encoder_2(ids_2).text_embeds,
              "text_encoder_2");
  torch::Tensor sample = torch::randn({1, 4, 8, 8});
  torch::Tensor t = torch::tensor({500}, torch::kLong);
  torch::Tensor context = torch::randn({1, 8, 192});
  UNetAddedConditions added{torch::randn({1, 96}), torch::tensor({{64., 64., 0., 0., 64., 64.}})};
  ExpectClose(model->unet(sample, t, context, added), original.unet(sample, t, context, added),
              "unet");
  torch::Tensor latents = torch::randn({1, 4, 4, 4});
  ExpectClose(model->vae->Decode(latents), original.vae->Decode(latents), "vae");
}

TEST_F(SingleFileLoadTest, LoadsSd1WithTokenizerFromDiffusersLayout) {
  Original original = MakeSd1();
  ASSERT_TRUE(SaveSafetensors(dir_ / "v1-tiny.safetensors", original.file).ok());
  ASSERT_TRUE(tokenizer::WriteByteLevelTokenizer(dir_ / "base" / "tokenizer").ok());
  auto model = LoadSingleFileCheckpoint(dir_ / "v1-tiny.safetensors", dir_ / "base");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->model_index["_class_name"], "StableDiffusionPipeline");
  EXPECT_EQ(model->tokenizer_2, nullptr);
  EXPECT_FALSE(model->text_encoder_2);
  torch::NoGradGuard no_grad;
  auto ids = torch::tensor(model->tokenizer->EncodePadded("a dog", 8), torch::kLong).unsqueeze(0);
  ExpectClose(model->text_encoder(ids).last_hidden_state,
              original.text_encoder(ids).last_hidden_state, "text_encoder");
}

TEST_F(SingleFileLoadTest, SavedAsDiffusersItLoadsBackWithTheSameOutputs) {
  Original original = MakeSdxl();
  ASSERT_TRUE(SaveSafetensors(dir_ / "sd_xl_tiny.safetensors", original.file).ok());
  ASSERT_TRUE(tokenizer::WriteByteLevelTokenizer(dir_ / "tokenizer").ok());
  auto converted = LoadSingleFileCheckpoint(dir_ / "sd_xl_tiny.safetensors", dir_ / "tokenizer");
  ASSERT_TRUE(converted.ok()) << converted.status();
  converted->scheduler_config["prediction_type"] = "v_prediction";
  ASSERT_TRUE(converted->tokenizer->AddTokens({"<tok>"}).ok());
  auto unsized = SaveDiffusersModel(*converted, dir_ / "diffusers");
  EXPECT_EQ(unsized.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(unsized.message()), HasSubstr("vocab_size"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "diffusers"));
  ASSERT_TRUE(converted->text_encoder->ResizeTokenEmbeddings(converted->tokenizer->vocab_size()).ok());
  ASSERT_TRUE(SaveDiffusersModel(*converted, dir_ / "diffusers").ok());
  EXPECT_FALSE(std::filesystem::exists(dir_ / "diffusers.partial"));

  auto reloaded = LoadDiffusersModel(dir_ / "diffusers");
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ(reloaded->model_index["_class_name"], "StableDiffusionXLPipeline");
  EXPECT_EQ(reloaded->scheduler_config["prediction_type"], "v_prediction");
  ASSERT_NE(reloaded->tokenizer_2, nullptr);
  EXPECT_EQ(reloaded->tokenizer_2->pad_id(), reloaded->tokenizer_2->TokenId("!"));
  EXPECT_EQ(reloaded->tokenizer->pad_id(), reloaded->tokenizer->eos_id());
  EXPECT_EQ(reloaded->tokenizer->vocab_size(), converted->tokenizer->vocab_size());
  for (const char* text : {"a photo of <tok>", "Hello, world! 123"}) {
    EXPECT_EQ(reloaded->tokenizer->EncodePadded(text, 16),
              converted->tokenizer->EncodePadded(text, 16));
    EXPECT_EQ(reloaded->tokenizer_2->EncodePadded(text, 16),
              converted->tokenizer_2->EncodePadded(text, 16));
  }
  for (const auto& [name, tensor] : StateDict(*converted->unet)) {
    ASSERT_TRUE(torch::equal(StateDict(*reloaded->unet).at(name), tensor)) << name;
  }
  for (const auto& [name, tensor] : StateDict(*converted->text_encoder_2)) {
    ASSERT_TRUE(torch::equal(StateDict(*reloaded->text_encoder_2).at(name), tensor)) << name;
  }
  torch::NoGradGuard no_grad;
  torch::Tensor latents = torch::randn({1, 4, 4, 4});
  ExpectClose(reloaded->vae->Decode(latents), original.vae->Decode(latents), "vae");

  auto again = SaveDiffusersModel(*converted, dir_ / "diffusers");
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(SingleFileLoadTest, HalfPrecisionExportKeepsConfigsAndCastsWeights) {
  Original original = MakeSd1();
  ASSERT_TRUE(SaveSafetensors(dir_ / "v1.safetensors", original.file).ok());
  ASSERT_TRUE(tokenizer::WriteByteLevelTokenizer(dir_ / "tokenizer").ok());
  auto converted = LoadSingleFileCheckpoint(dir_ / "v1.safetensors", dir_ / "tokenizer");
  ASSERT_TRUE(converted.ok()) << converted.status();
  ASSERT_TRUE(SaveDiffusersModel(*converted, dir_ / "fp16", torch::kFloat16).ok());
  auto weights = LoadSafetensors(dir_ / "fp16" / "unet" / "diffusion_pytorch_model.safetensors");
  ASSERT_TRUE(weights.ok()) << weights.status();
  EXPECT_EQ(weights->at("conv_in.weight").scalar_type(), torch::kFloat16);
  auto reloaded = LoadDiffusersModel(dir_ / "fp16");
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ(reloaded->unet->config().ToJson(), converted->unet->config().ToJson());
  EXPECT_TRUE(torch::equal(StateDict(*reloaded->unet).at("conv_in.weight"),
                           StateDict(*converted->unet).at("conv_in.weight").to(torch::kHalf).to(
                               torch::kFloat)));
}

TEST_F(SingleFileLoadTest, ErrorsNameTheFile) {
  auto missing = LoadSingleFileCheckpoint(dir_ / "nope.safetensors", dir_);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("nope.safetensors"));

  auto file = MakeSd1().file;
  file.erase("model.diffusion_model.out.2.bias");
  ASSERT_TRUE(SaveSafetensors(dir_ / "broken.safetensors", file).ok());
  ASSERT_TRUE(tokenizer::WriteByteLevelTokenizer(dir_ / "tokenizer").ok());
  auto broken = LoadSingleFileCheckpoint(dir_ / "broken.safetensors", dir_ / "tokenizer");
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(broken.status().message()), HasSubstr("broken.safetensors"));
  EXPECT_THAT(std::string(broken.status().message()),
              HasSubstr("\"model.diffusion_model.out.2.bias\""));

  ASSERT_TRUE(SaveSafetensors(dir_ / "ok.safetensors", MakeSd1().file).ok());
  auto no_tokenizer = LoadSingleFileCheckpoint(dir_ / "ok.safetensors", dir_ / "no_such_dir");
  ASSERT_FALSE(no_tokenizer.ok());
  EXPECT_THAT(std::string(no_tokenizer.status().message()), HasSubstr("vocab.json"));
}

}  // namespace
}  // namespace easel::models
