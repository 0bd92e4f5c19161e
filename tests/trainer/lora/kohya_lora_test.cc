#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tests/trainer/data/dataset_fixture.h"
#include "tests/trainer/lora/lora_test_util.h"
#include "trainer/lora/lora.h"
#include "trainer/models/weights.h"

namespace easel::lora {
namespace {

using testing::Adapted;
using testing::ExpectSameAdapters;
using testing::Forward;
using ::testing::HasSubstr;
using testing::KohyaStyle;
using testing::Layer;
using testing::Randomize;
using testing::ReadMetadata;
using ::testing::StartsWith;
using testing::TextEncoderOptions;
using testing::TinyTextEncoder;
using testing::TinyUNet;
using testing::UNetInputs;

constexpr char kQ[] = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
constexpr char kQPath[] = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q";

LoraInfo SdInfo(BaseModelVersion version = BaseModelVersion::kSd1) {
  return LoraInfo{.rank = 3,
                  .alpha = 6,
                  .trigger_phrase = "sks dog",
                  .base_model = "tiny",
                  .target_modules = LoraOptions{}.target_modules,
                  .base_model_version = version,
                  .title = "tiny dog",
                  .training_parameters = {
                      {"learning_rate", "0.0001"}, {"max_train_steps", "500"}, {"seed", "42"}}};
}

// A UNet and a text encoder with random adapters (rank 3, alpha 6 / rank 4, alpha 4).
struct AdaptedPair {
  models::UNet2DConditionModel unet;
  models::CLIPTextModel text_encoder;

  explicit AdaptedPair(uint64_t seed) : unet(TinyUNet(seed)), text_encoder(TinyTextEncoder(seed)) {
    auto unet_params = InjectLora({"unet", unet.get()}, LoraOptions{.rank = 3, .alpha = 6});
    auto text_params = InjectLora({"text_encoder", text_encoder.get()}, TextEncoderOptions());
    EXPECT_TRUE(unet_params.ok() && text_params.ok());
    if (unet_params.ok()) Randomize(*unet_params, seed + 1);
    if (text_params.ok()) Randomize(*text_params, seed + 2);
  }
  std::vector<LoraPart> parts() {
    return {{"unet", unet.get()}, {"text_encoder", text_encoder.get()}};
  }
};

TEST(KohyaLoraTest, KeysNameEveryAdaptedModuleTheKohyaWay) {
  auto dir = data::testing::FreshTempDir("kohya");
  AdaptedPair model(10);
  ASSERT_TRUE(SaveLora(dir / "k.safetensors", model.parts(), SdInfo(), LoraKeyStyle::kKohya).ok());
  auto tensors = models::LoadSafetensors(dir / "k.safetensors");
  ASSERT_TRUE(tensors.ok()) << tensors.status();

  for (const std::string name :
       {std::string(kQ),
        std::string("lora_unet_up_blocks_1_attentions_1_transformer_blocks_0_"
                    "attn2_to_out_0"),
        std::string("lora_te_text_model_encoder_layers_1_self_attn_out_proj")}) {
    for (const std::string suffix : {".lora_down.weight", ".lora_up.weight", ".alpha"}) {
      EXPECT_TRUE(tensors->contains(name + suffix)) << name + suffix;
    }
  }
  size_t adapters = 0;
  for (auto [prefix, module] : std::map<std::string, torch::nn::Module*>{
           {"lora_unet_", model.unet.get()}, {"lora_te_", model.text_encoder.get()}}) {
    for (const auto& [path, layer] : Adapted(*module)) {
      const std::string name = prefix + KohyaStyle(path);
      ASSERT_TRUE(tensors->contains(name + ".lora_down.weight")) << name;
      EXPECT_TRUE(torch::equal(tensors->at(name + ".lora_down.weight"), layer->lora_A()->weight));
      EXPECT_TRUE(torch::equal(tensors->at(name + ".lora_up.weight"), layer->lora_B()->weight));
      const torch::Tensor& alpha = tensors->at(name + ".alpha");
      EXPECT_EQ(alpha.dim(), 0) << name;
      EXPECT_EQ(alpha.scalar_type(), torch::kFloat32) << name;
      EXPECT_FLOAT_EQ(alpha.item<float>(), layer->lora_scale() * layer->lora_rank()) << name;
      ++adapters;
    }
  }
  EXPECT_EQ(tensors->size(), 3 * adapters);
}

TEST(KohyaLoraTest, SdxlTextEncodersGetTe1AndTe2) {
  auto dir = data::testing::FreshTempDir("kohya");
  auto te1 = TinyTextEncoder(11);
  auto te2 = TinyTextEncoder(12, models::TinySdxlTextEncoder2Config());
  ASSERT_TRUE(InjectLora({"text_encoder", te1.get()}, TextEncoderOptions()).ok());
  ASSERT_TRUE(InjectLora({"text_encoder_2", te2.get()}, TextEncoderOptions()).ok());
  std::vector<LoraPart> parts = {{"text_encoder", te1.get()}, {"text_encoder_2", te2.get()}};
  ASSERT_TRUE(SaveLora(dir / "xl.safetensors", parts, SdInfo(BaseModelVersion::kSdxlBase),
                       LoraKeyStyle::kKohya)
                  .ok());
  auto tensors = models::LoadSafetensors(dir / "xl.safetensors");
  ASSERT_TRUE(tensors.ok());
  EXPECT_TRUE(tensors->contains("lora_te1_text_model_encoder_layers_0_self_attn_q_proj.alpha"));
  EXPECT_TRUE(tensors->contains("lora_te2_text_model_encoder_layers_0_self_attn_q_proj.alpha"));
  for (const auto& [name, tensor] : *tensors)
    EXPECT_THAT(name, ::testing::Not(StartsWith("lora_te_")));

  auto loaded1 = TinyTextEncoder(11);
  auto loaded2 = TinyTextEncoder(12, models::TinySdxlTextEncoder2Config());
  auto info = LoadLora(dir / "xl.safetensors",
                       {{"text_encoder", loaded1.get()}, {"text_encoder_2", loaded2.get()}});
  ASSERT_TRUE(info.ok()) << info.status();
  ExpectSameAdapters(*te1, *loaded1);
  ExpectSameAdapters(*te2, *loaded2);

  // A missing half is named with the prefix the file uses.
  const std::string up = "lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight";
  auto edited = *tensors;
  edited.erase(up);
  ASSERT_TRUE(models::SaveSafetensors(dir / "missing.safetensors", edited).ok());
  auto missing = LoadLora(
      dir / "missing.safetensors",
      {{"text_encoder", TinyTextEncoder(11).get()},
       {"text_encoder_2", TinyTextEncoder(12, models::TinySdxlTextEncoder2Config()).get()}});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr(up));

  // The caller may name the prefix itself.
  ASSERT_TRUE(
      SaveLora(dir / "te1.safetensors",
               {{.prefix = "text_encoder", .module = te1.get(), .kohya_prefix = "lora_te1_"}},
               SdInfo(), LoraKeyStyle::kKohya)
          .ok());
  tensors = models::LoadSafetensors(dir / "te1.safetensors");
  ASSERT_TRUE(tensors.ok());
  EXPECT_TRUE(tensors->contains("lora_te1_text_model_encoder_layers_0_self_attn_q_proj.alpha"));
}

TEST(KohyaLoraTest, RoundTripRestoresWeightsOutputsAndInfo) {
  auto dir = data::testing::FreshTempDir("kohya");
  AdaptedPair model(20);
  ASSERT_TRUE(SaveLora(dir / "k.safetensors", model.parts(), SdInfo(), LoraKeyStyle::kKohya).ok());
  UNetInputs in;
  const torch::Tensor unet_out = Forward(model.unet, in);
  const torch::Tensor text_out = Forward(model.text_encoder);

  // Into adapters injected with another alpha: the file's alpha wins.
  auto unet = TinyUNet(20);
  auto text_encoder = TinyTextEncoder(20);
  ASSERT_TRUE(InjectLora({"unet", unet.get()}, LoraOptions{.rank = 3, .alpha = 1}).ok());
  ASSERT_TRUE(InjectLora({"text_encoder", text_encoder.get()}, TextEncoderOptions(4, 1)).ok());
  auto info =
      LoadLora(dir / "k.safetensors", {{"unet", unet.get()}, {"text_encoder", text_encoder.get()}});
  ASSERT_TRUE(info.ok()) << info.status();
  ExpectSameAdapters(*model.unet, *unet);
  ExpectSameAdapters(*model.text_encoder, *text_encoder);
  EXPECT_TRUE(torch::allclose(unet_out, Forward(unet, in)));
  EXPECT_TRUE(torch::allclose(text_out, Forward(text_encoder)));

  const LoraInfo want = SdInfo();
  EXPECT_EQ(info->key_style, LoraKeyStyle::kKohya);
  EXPECT_EQ(info->rank, 3);  // ss_network_dim: the rank most layers have
  EXPECT_EQ(info->alpha, 6);
  EXPECT_EQ(info->trigger_phrase, want.trigger_phrase);
  EXPECT_EQ(info->base_model, want.base_model);
  EXPECT_EQ(info->base_model_version, want.base_model_version);
  EXPECT_EQ(info->title, want.title);
  EXPECT_EQ(info->target_modules, want.target_modules);
  EXPECT_EQ(info->training_parameters, want.training_parameters);

  // Into plain models: the file brings the adapters.
  auto plain_unet = TinyUNet(20);
  auto plain_text = TinyTextEncoder(20);
  ASSERT_TRUE(LoadLora(dir / "k.safetensors",
                       {{"unet", plain_unet.get()}, {"text_encoder", plain_text.get()}})
                  .ok());
  ExpectSameAdapters(*model.unet, *plain_unet);
  EXPECT_TRUE(torch::allclose(unet_out, Forward(plain_unet, in)));
  EXPECT_TRUE(torch::allclose(text_out, Forward(plain_text)));
}

TEST(KohyaLoraTest, PerModuleAlphaIsWrittenAndHonoured) {
  auto dir = data::testing::FreshTempDir("kohya");
  auto unet = TinyUNet(30);
  auto params = InjectLora({"unet", unet.get()}, LoraOptions{.rank = 4, .alpha = 4});
  ASSERT_TRUE(params.ok());
  Randomize(*params, 31);
  auto q = Layer(*unet, kQPath);
  ASSERT_NE(q, nullptr);
  q->set_lora_scale(0.25);  // alpha 1 on this layer, 4 elsewhere
  LoraInfo info = SdInfo();
  info.rank = 4;
  info.alpha = 4;
  ASSERT_TRUE(
      SaveLora(dir / "k.safetensors", {{"unet", unet.get()}}, info, LoraKeyStyle::kKohya).ok());

  auto tensors = models::LoadSafetensors(dir / "k.safetensors");
  ASSERT_TRUE(tensors.ok());
  EXPECT_EQ(tensors->at(std::string(kQ) + ".alpha").item<float>(), 1.0f);
  EXPECT_EQ(
      tensors->at("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_k.alpha")
          .item<float>(),
      4.0f);
  EXPECT_EQ(std::stod(ReadMetadata(dir / "k.safetensors").at("ss_network_alpha")), 4.0);

  auto plain = TinyUNet(30);
  ASSERT_TRUE(LoadLora(dir / "k.safetensors", {{"unet", plain.get()}}).ok());
  ExpectSameAdapters(*unet, *plain);
  EXPECT_DOUBLE_EQ(Layer(*plain, kQPath)->lora_scale(), 0.25);
  UNetInputs in;
  EXPECT_TRUE(torch::allclose(Forward(unet, in), Forward(plain, in)));

  // An alpha edited in the file is what the layer gets.
  tensors->at(std::string(kQ) + ".alpha") = torch::scalar_tensor(2.0, torch::kFloat32);
  ASSERT_TRUE(models::SaveSafetensors(dir / "edited.safetensors", *tensors).ok());
  ASSERT_TRUE(LoadLora(dir / "edited.safetensors", {{"unet", plain.get()}}).ok());
  EXPECT_DOUBLE_EQ(Layer(*plain, kQPath)->lora_scale(), 2.0 / 4);
  EXPECT_DOUBLE_EQ(
      Layer(*plain, "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_k")->lora_scale(),
      1.0);

  // Without an .alpha a layer gets alpha = rank (kohya's convention).
  tensors->erase(std::string(kQ) + ".alpha");
  ASSERT_TRUE(models::SaveSafetensors(dir / "no-alpha.safetensors", *tensors).ok());
  auto fresh = TinyUNet(30);
  ASSERT_TRUE(LoadLora(dir / "no-alpha.safetensors", {{"unet", fresh.get()}}).ok());
  EXPECT_DOUBLE_EQ(Layer(*fresh, kQPath)->lora_scale(), 1.0);
}

struct VersionCase {
  BaseModelVersion version;
  std::string ss_base_model_version;
  std::string architecture;
  std::string v2;
};

class KohyaMetadataTest : public ::testing::TestWithParam<VersionCase> {};

TEST_P(KohyaMetadataTest, RecordsNetworkModelSpecAndTrainingParameters) {
  auto dir = data::testing::FreshTempDir("kohya");
  AdaptedPair model(40);
  ASSERT_TRUE(SaveLora(dir / "k.safetensors", model.parts(), SdInfo(GetParam().version),
                       LoraKeyStyle::kKohya)
                  .ok());
  auto metadata = ReadMetadata(dir / "k.safetensors");
  auto value = [&](const std::string& key) {
    EXPECT_TRUE(metadata.contains(key)) << key;
    return metadata.contains(key) ? metadata.at(key) : "";
  };
  EXPECT_EQ(value("ss_network_module"), "networks.lora");
  // The UNet has more adapters than the text encoder: its rank and alpha are the network's.
  EXPECT_EQ(value("ss_network_dim"), "3");
  EXPECT_EQ(std::stod(value("ss_network_alpha")), 6.0);
  EXPECT_EQ(value("ss_base_model_version"), GetParam().ss_base_model_version);
  EXPECT_EQ(value("ss_v2"), GetParam().v2);
  EXPECT_EQ(value("modelspec.sai_model_spec"), "1.0.0");
  EXPECT_EQ(value("modelspec.architecture"), GetParam().architecture);
  EXPECT_FALSE(value("modelspec.implementation").empty());
  EXPECT_EQ(value("modelspec.title"), "tiny dog");
  EXPECT_EQ(value("modelspec.trigger_phrase"), "sks dog");
  EXPECT_EQ(value("ss_sd_model_name"), "tiny");
  EXPECT_EQ(value("ss_learning_rate"), "0.0001");
  EXPECT_EQ(value("ss_max_train_steps"), "500");
  EXPECT_EQ(value("ss_seed"), "42");
  EXPECT_EQ(value("format"), "pt");

  auto info = LoadLora(dir / "k.safetensors", model.parts());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->base_model_version, GetParam().version);
}

INSTANTIATE_TEST_SUITE_P(Versions, KohyaMetadataTest,
                         ::testing::Values(VersionCase{BaseModelVersion::kSd1, "sd_v1",
                                                       "stable-diffusion-v1/lora", "False"},
                                           VersionCase{BaseModelVersion::kSd2, "sd_v2",
                                                       "stable-diffusion-v2-512/lora", "True"},
                                           VersionCase{BaseModelVersion::kSd2V768, "sd_v2_v",
                                                       "stable-diffusion-v2-768-v/lora", "True"},
                                           VersionCase{
                                               BaseModelVersion::kSdxlBase, "sdxl_base_v1-0",
                                               "stable-diffusion-xl-v1-base/lora", "False"}));

TEST(KohyaLoraTest, TitleDefaultsToTheFileStem) {
  auto dir = data::testing::FreshTempDir("kohya");
  AdaptedPair model(41);
  LoraInfo info = SdInfo();
  info.title.clear();
  ASSERT_TRUE(SaveLora(dir / "my-dog.safetensors", model.parts(), info, LoraKeyStyle::kKohya).ok());
  EXPECT_EQ(ReadMetadata(dir / "my-dog.safetensors").at("modelspec.title"), "my-dog");
}

TEST(KohyaLoraTest, SaveNeedsABaseModelVersionAndFreeTrainingParameterNames) {
  auto dir = data::testing::FreshTempDir("kohya");
  AdaptedPair model(50);
  auto saved = SaveLora(dir / "k.safetensors", model.parts(), SdInfo(BaseModelVersion::kUnknown),
                        LoraKeyStyle::kKohya);
  EXPECT_EQ(saved.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(saved.message()), HasSubstr("base_model_version"));

  LoraInfo info = SdInfo();
  info.training_parameters["network_dim"] = "128";
  saved = SaveLora(dir / "k.safetensors", model.parts(), info, LoraKeyStyle::kKohya);
  EXPECT_EQ(saved.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(saved.message()), HasSubstr("network_dim"));

  saved = SaveLora(dir / "k.safetensors", {{"transformer", model.unet.get()}}, SdInfo(),
                   LoraKeyStyle::kKohya);
  EXPECT_EQ(saved.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(saved.message()), HasSubstr("transformer"));
}

class KohyaLoadErrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = data::testing::FreshTempDir("kohya");
    ASSERT_TRUE(SaveLora(dir_ / "good.safetensors", {{"unet", model_.unet.get()}}, SdInfo(),
                         LoraKeyStyle::kKohya)
                    .ok());
    auto tensors = models::LoadSafetensors(dir_ / "good.safetensors");
    ASSERT_TRUE(tensors.ok());
    tensors_ = *tensors;
  }

  // Writes `tensors_` as bad.safetensors and loads it into a plain UNet, which must stay plain.
  absl::Status LoadEdited() {
    EXPECT_TRUE(models::SaveSafetensors(dir_ / "bad.safetensors", tensors_).ok());
    auto plain = TinyUNet(60);
    auto loaded = LoadLora(dir_ / "bad.safetensors", {{"unet", plain.get()}});
    EXPECT_TRUE(Adapted(*plain).empty());
    EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("bad.safetensors"));
    return loaded.status();
  }

  std::filesystem::path dir_;
  AdaptedPair model_{60};
  std::map<std::string, torch::Tensor> tensors_;
};

TEST_F(KohyaLoadErrorTest, MissingHalfOfAPairIsNamed) {
  tensors_.erase(std::string(kQ) + ".lora_up.weight");
  absl::Status status = LoadEdited();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr(std::string(kQ) + ".lora_up.weight"));
}

TEST_F(KohyaLoadErrorTest, TensorNamingNoModuleIsNamed) {
  const std::string stray = "lora_unet_down_blocks_0_attentions_0_no_such_layer.lora_down.weight";
  tensors_[stray] = torch::zeros({3, 32});
  absl::Status status = LoadEdited();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr(stray));
}

TEST_F(KohyaLoadErrorTest, ShapeMismatchIsNamed) {
  const std::string key = std::string(kQ) + ".lora_down.weight";
  tensors_[key] = torch::zeros({3, 7});
  absl::Status status = LoadEdited();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr(key));
  EXPECT_THAT(std::string(status.message()), HasSubstr("shape"));
}

TEST_F(KohyaLoadErrorTest, AlphaThatIsNotOneValueIsNamed) {
  const std::string key = std::string(kQ) + ".alpha";
  tensors_[key] = torch::ones({2});
  absl::Status status = LoadEdited();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr(key));
}

TEST_F(KohyaLoadErrorTest, RankThatDoesNotFitInjectedAdaptersIsNamed) {
  auto unet = TinyUNet(60);
  ASSERT_TRUE(InjectLora({"unet", unet.get()}, LoraOptions{.rank = 8, .alpha = 8}).ok());
  auto loaded = LoadLora(dir_ / "good.safetensors", {{"unet", unet.get()}});
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(".lora_down.weight"));
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("good.safetensors"));
}

// Two module paths that read the same once '.' became '_' ("a_b.c" and "a.b_c").
struct Clashing {
  std::shared_ptr<torch::nn::Module> root = std::make_shared<torch::nn::Module>();
  Clashing() {
    auto a_b = root->register_module("a_b", std::make_shared<torch::nn::Module>());
    a_b->register_module("c", models::LoraCompatibleLinear(2, 2));
    auto a = root->register_module("a", std::make_shared<torch::nn::Module>());
    a->register_module("b_c", models::LoraCompatibleLinear(2, 2));
  }
};

TEST(KohyaLoraTest, NamesThatCannotBeToldApartAreErrors) {
  auto dir = data::testing::FreshTempDir("kohya");
  Clashing model;
  ASSERT_TRUE(
      InjectLora({"unet", model.root.get()}, LoraOptions{.target_modules = {"c", "b_c"}}).ok());
  auto saved =
      SaveLora(dir / "k.safetensors", {{"unet", model.root.get()}}, SdInfo(), LoraKeyStyle::kKohya);
  EXPECT_EQ(saved.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(saved.message()), HasSubstr("a_b.c"));
  EXPECT_THAT(std::string(saved.message()), HasSubstr("a.b_c"));

  std::map<std::string, torch::Tensor> tensors = {
      {"lora_unet_a_b_c.lora_down.weight", torch::zeros({4, 2})},
      {"lora_unet_a_b_c.lora_up.weight", torch::zeros({2, 4})}};
  ASSERT_TRUE(models::SaveSafetensors(dir / "clash.safetensors", tensors).ok());
  Clashing other;
  auto loaded = LoadLora(dir / "clash.safetensors", {{"unet", other.root.get()}});
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("lora_unet_a_b_c"));
}

}  // namespace
}  // namespace easel::lora
