#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
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
using testing::Layer;
using testing::Randomize;
using testing::ReadMetadata;
using testing::TextEncoderOptions;
using testing::TinyTextEncoder;
using testing::TinyUNet;
using testing::UNetInputs;

constexpr char kQPath[] = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q";
constexpr char kKPath[] = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_k";

nlohmann::json AdapterMetadata(const std::filesystem::path& path) {
  auto metadata = ReadMetadata(path);
  EXPECT_TRUE(metadata.contains("lora_adapter_metadata"));
  auto parsed = nlohmann::json::parse(metadata["lora_adapter_metadata"], nullptr, false);
  EXPECT_TRUE(parsed.is_object()) << metadata["lora_adapter_metadata"];
  return parsed;
}

std::set<std::string> Paths(torch::nn::Module& module) {
  std::set<std::string> out;
  for (const auto& [path, layer] : Adapted(module)) out.insert(path);
  return out;
}

TEST(DiffusersLoraMetadataTest, RecordsThePeftConfigOfEachPartUnderItsPrefix) {
  auto dir = data::testing::FreshTempDir("diffusers");
  auto unet = TinyUNet(1);
  auto text_encoder = TinyTextEncoder(1);
  ASSERT_TRUE(InjectLora({"unet", unet.get()}, LoraOptions{.rank = 3, .alpha = 6}).ok());
  ASSERT_TRUE(InjectLora({"text_encoder", text_encoder.get()}, TextEncoderOptions(2, 1)).ok());
  ASSERT_TRUE(SaveLora(dir / "d.safetensors",
                       {{"unet", unet.get()}, {"text_encoder", text_encoder.get()}},
                       LoraInfo{.rank = 3, .alpha = 6})
                  .ok());
  EXPECT_EQ(ReadMetadata(dir / "d.safetensors").at("format"), "pt");
  nlohmann::json config = AdapterMetadata(dir / "d.safetensors");
  EXPECT_EQ(config.at("unet.r"), 3);
  EXPECT_EQ(config.at("unet.lora_alpha"), 6);
  EXPECT_EQ(config.at("unet.target_modules").get<std::set<std::string>>(), Paths(*unet));
  EXPECT_TRUE(config.at("unet.rank_pattern").empty());
  EXPECT_TRUE(config.at("unet.alpha_pattern").empty());
  EXPECT_EQ(config.at("text_encoder.r"), 2);
  EXPECT_EQ(config.at("text_encoder.lora_alpha"), 1);
  EXPECT_EQ(config.at("text_encoder.target_modules").get<std::set<std::string>>(),
            Paths(*text_encoder));
  for (const auto& [key, value] : config.items()) {
    EXPECT_TRUE(key.starts_with("unet.") || key.starts_with("text_encoder.")) << key;
  }
}

TEST(DiffusersLoraMetadataTest, LayersThatDifferGoIntoRankAndAlphaPatterns) {
  auto dir = data::testing::FreshTempDir("diffusers");
  auto unet = TinyUNet(2);
  auto params = InjectLora({"unet", unet.get()}, LoraOptions{.rank = 4, .alpha = 8});
  ASSERT_TRUE(params.ok());
  Layer(*unet, kKPath)->EnableLora(2, 3);  // rank 2, alpha 3
  for (const auto& [path, layer] : Adapted(*unet)) {
    torch::NoGradGuard no_grad;
    layer->lora_B()->weight.normal_(0, 0.1);
  }
  Layer(*unet, kQPath)->set_lora_scale(0.25);  // alpha 1
  ASSERT_TRUE(SaveLora(dir / "d.safetensors", {{"unet", unet.get()}}, LoraInfo{}).ok());

  nlohmann::json config = AdapterMetadata(dir / "d.safetensors");
  EXPECT_EQ(config.at("unet.r"), 4);
  EXPECT_EQ(config.at("unet.lora_alpha"), 8);
  EXPECT_EQ(config.at("unet.rank_pattern"), (nlohmann::json{{std::string("^") + kKPath, 2}}));
  EXPECT_EQ(config.at("unet.alpha_pattern"),
            (nlohmann::json{{std::string("^") + kKPath, 3}, {std::string("^") + kQPath, 1}}));

  auto plain = TinyUNet(2);
  auto info = LoadLora(dir / "d.safetensors", {{"unet", plain.get()}});
  ASSERT_TRUE(info.ok()) << info.status();
  ExpectSameAdapters(*unet, *plain);
  EXPECT_EQ(Layer(*plain, kKPath)->lora_rank(), 2);
  UNetInputs in;
  EXPECT_TRUE(torch::allclose(Forward(unet, in), Forward(plain, in)));
}

TEST(DiffusersLoraMetadataTest, AlphaComesFromThePeftConfigAloneOrDefaultsToRank) {
  auto dir = data::testing::FreshTempDir("diffusers");
  auto unet = TinyUNet(3);
  auto params = InjectLora({"unet", unet.get()}, LoraOptions{.rank = 3, .alpha = 6});
  ASSERT_TRUE(params.ok());
  Randomize(*params, 30);
  ASSERT_TRUE(SaveLora(dir / "d.safetensors", {{"unet", unet.get()}}, LoraInfo{}).ok());
  auto tensors = models::LoadSafetensors(dir / "d.safetensors");
  ASSERT_TRUE(tensors.ok());
  auto metadata = ReadMetadata(dir / "d.safetensors");

  // As a file diffusers itself wrote: only format and lora_adapter_metadata.
  ASSERT_TRUE(
      models::SaveSafetensors(
          dir / "peft.safetensors", *tensors,
          {{"format", "pt"}, {"lora_adapter_metadata", metadata.at("lora_adapter_metadata")}})
          .ok());
  auto from_config = TinyUNet(3);
  ASSERT_TRUE(LoadLora(dir / "peft.safetensors", {{"unet", from_config.get()}}).ok());
  EXPECT_DOUBLE_EQ(Layer(*from_config, kQPath)->lora_scale(), 6.0 / 3);
  UNetInputs in;
  EXPECT_TRUE(torch::allclose(Forward(unet, in), Forward(from_config, in)));

  // No metadata at all: alpha = rank, as diffusers assumes.
  ASSERT_TRUE(models::SaveSafetensors(dir / "bare.safetensors", *tensors).ok());
  auto bare = TinyUNet(3);
  ASSERT_TRUE(LoadLora(dir / "bare.safetensors", {{"unet", bare.get()}}).ok());
  EXPECT_DOUBLE_EQ(Layer(*bare, kQPath)->lora_scale(), 1.0);
}

TEST(DiffusersLoraMetadataTest, InfoRoundTrips) {
  auto dir = data::testing::FreshTempDir("diffusers");
  auto unet = TinyUNet(4);
  ASSERT_TRUE(InjectLora({"unet", unet.get()}, LoraOptions{.rank = 3, .alpha = 6}).ok());
  LoraInfo info{.rank = 3,
                .alpha = 6,
                .trigger_phrase = "sks",
                .base_model = "tiny",
                .target_modules = LoraOptions{}.target_modules,
                .base_model_version = BaseModelVersion::kSdxlBase,
                .title = "a title",
                .training_parameters = {{"learning_rate", "0.0001"}, {"seed", "7"}}};
  ASSERT_TRUE(SaveLora(dir / "d.safetensors", {{"unet", unet.get()}}, info).ok());
  auto loaded = LoadLora(dir / "d.safetensors", {{"unet", TinyUNet(4).get()}});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->key_style, LoraKeyStyle::kDiffusers);
  EXPECT_EQ(loaded->rank, info.rank);
  EXPECT_EQ(loaded->alpha, info.alpha);
  EXPECT_EQ(loaded->trigger_phrase, info.trigger_phrase);
  EXPECT_EQ(loaded->base_model, info.base_model);
  EXPECT_EQ(loaded->target_modules, info.target_modules);
  EXPECT_EQ(loaded->base_model_version, info.base_model_version);
  EXPECT_EQ(loaded->title, info.title);
  EXPECT_EQ(loaded->training_parameters, info.training_parameters);
}

TEST(DiffusersLoraMetadataTest, MalformedAdapterMetadataIsNamed) {
  auto dir = data::testing::FreshTempDir("diffusers");
  auto unet = TinyUNet(5);
  ASSERT_TRUE(InjectLora({"unet", unet.get()}, LoraOptions{}).ok());
  ASSERT_TRUE(models::SaveSafetensors(dir / "bad.safetensors", LoraStateDict({"unet", unet.get()}),
                                      {{"lora_adapter_metadata", "{not json"}})
                  .ok());
  auto loaded = LoadLora(dir / "bad.safetensors", {{"unet", TinyUNet(5).get()}});
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("lora_adapter_metadata"));
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("bad.safetensors"));
}

}  // namespace
}  // namespace easel::lora
