// LoRA adapters on convolutions (LoCon): the layer, injection into the UNet's convolutions,
// files in both key styles, and training.

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "tests/trainer/data/dataset_fixture.h"
#include "tests/trainer/lora/lora_test_util.h"
#include "trainer/lora/lora.h"
#include "trainer/lora/lora_layers.h"
#include "trainer/lora/lora_metadata.h"
#include "trainer/models/lora_compatible_conv.h"
#include "trainer/models/weights.h"

namespace easel::lora {
namespace {

using models::LoraCompatibleConv2d;
using models::LoraCompatibleConv2dImpl;
using models::LoraCompatibleConv2dOptions;
using testing::Forward;
using ::testing::HasSubstr;
using testing::KohyaStyle;
using testing::Randomize;
using testing::ReadMetadata;
using testing::TinyUNet;
using testing::UNetInputs;

constexpr char kConv1[] = "down_blocks.0.resnets.0.conv1";
constexpr char kKohyaConv1[] = "lora_unet_down_blocks_0_resnets_0_conv1";

bool EndsWithName(const std::string& path, const std::string& name) {
  return path == name || path.ends_with("." + name);
}

// Module path -> adapted layer (linear or convolution).
std::map<std::string, std::shared_ptr<models::LoraCompatibleLayer>> AdaptedLayers(
    torch::nn::Module& module) {
  std::map<std::string, std::shared_ptr<models::LoraCompatibleLayer>> out;
  for (auto& [path, layer] : LoraLayers(module)) {
    if (layer->has_lora()) out.emplace(path, layer);
  }
  return out;
}

void ExpectSameAdapters(torch::nn::Module& expected, torch::nn::Module& actual) {
  auto want = AdaptedLayers(expected);
  auto got = AdaptedLayers(actual);
  ASSERT_EQ(want.size(), got.size());
  for (const auto& [path, layer] : want) {
    ASSERT_TRUE(got.contains(path)) << path;
    EXPECT_TRUE(torch::equal(layer->lora_A_weight(), got.at(path)->lora_A_weight())) << path;
    EXPECT_TRUE(torch::equal(layer->lora_B_weight(), got.at(path)->lora_B_weight())) << path;
    EXPECT_DOUBLE_EQ(layer->lora_scale(), got.at(path)->lora_scale()) << path;
  }
}

// (kernel, stride, padding) of the UNet's convolutions: resnet 3x3, downsampler 3x3 / 2 (with
// and without padding), 1x1 shortcut and proj_in.
class ConvLayerTest : public ::testing::TestWithParam<std::tuple<int64_t, int64_t, int64_t>> {
 protected:
  LoraCompatibleConv2dOptions Options() const {
    auto [kernel, stride, padding] = GetParam();
    return {.in_channels = 6, .out_channels = 5, .kernel_size = kernel, .stride = stride,
            .padding = padding};
  }
};

TEST_P(ConvLayerTest, ComputesWhatTorchConv2dComputesAndIsInitialisedLikeIt) {
  const LoraCompatibleConv2dOptions options = Options();
  torch::manual_seed(1);
  LoraCompatibleConv2d conv(options);
  torch::manual_seed(1);
  torch::nn::Conv2d reference(torch::nn::Conv2dOptions(options.in_channels, options.out_channels,
                                                       options.kernel_size)
                                  .stride(options.stride)
                                  .padding(options.padding));
  EXPECT_TRUE(torch::equal(conv->weight, reference->weight));
  EXPECT_TRUE(torch::equal(conv->bias, reference->bias));
  std::vector<std::string> names;
  for (const auto& item : conv->named_parameters()) names.push_back(item.key());
  EXPECT_EQ(names, (std::vector<std::string>{"weight", "bias"}));

  torch::NoGradGuard no_grad;
  torch::Tensor x = torch::randn({2, options.in_channels, 9, 9});
  EXPECT_TRUE(torch::equal(conv(x), reference(x)));
}

TEST_P(ConvLayerTest, FreshAdapterLeavesTheOutputUnchanged) {
  torch::manual_seed(2);
  LoraCompatibleConv2d conv(Options());
  torch::NoGradGuard no_grad;
  torch::Tensor x = torch::randn({2, 6, 9, 9});
  torch::Tensor before = conv(x);
  conv->EnableLora(3, 6);
  ASSERT_TRUE(conv->has_lora());
  EXPECT_TRUE(torch::equal(conv->lora_B()->weight, torch::zeros({5, 3, 1, 1})));
  EXPECT_TRUE(torch::equal(conv(x), before));
}

TEST_P(ConvLayerTest, DeltaIsTheScaledUpConvOfTheDownConv) {
  const LoraCompatibleConv2dOptions options = Options();
  torch::manual_seed(3);
  LoraCompatibleConv2d conv(options);
  conv->EnableLora(/*rank=*/3, /*alpha=*/4.5);
  EXPECT_EQ(conv->lora_rank(), 3);
  EXPECT_DOUBLE_EQ(conv->lora_scale(), 1.5);
  EXPECT_EQ(conv->lora_A()->weight.sizes(), torch::IntArrayRef(conv->LoraAShape(3)));
  EXPECT_EQ(conv->lora_B()->weight.sizes(), torch::IntArrayRef(conv->LoraBShape(3)));
  EXPECT_EQ(conv->LoraAShape(3),
            (std::vector<int64_t>{3, 6, options.kernel_size, options.kernel_size}));
  EXPECT_EQ(conv->LoraBShape(3), (std::vector<int64_t>{5, 3, 1, 1}));
  EXPECT_EQ(conv->lora_A()->weight.scalar_type(), torch::kFloat32);
  torch::NoGradGuard no_grad;
  conv->lora_B()->weight.normal_(0, 0.3);
  torch::Tensor x = torch::randn({2, 6, 9, 9});
  const std::vector<int64_t> stride = {options.stride, options.stride};
  const std::vector<int64_t> padding = {options.padding, options.padding};
  torch::Tensor base = torch::conv2d(x, conv->weight, conv->bias, stride, padding);
  torch::Tensor down = torch::conv2d(x, conv->lora_A()->weight, {}, stride, padding);
  torch::Tensor delta = torch::conv2d(down, conv->lora_B()->weight);
  torch::Tensor got = conv(x);
  EXPECT_TRUE(torch::allclose(got, base + 1.5 * delta, 1e-5, 1e-6));
  EXPECT_GT((got - base).abs().max().item<double>(), 1e-3);

  conv->set_lora_scale(0);
  EXPECT_TRUE(torch::equal(conv(x), base));
}

INSTANTIATE_TEST_SUITE_P(Kernels, ConvLayerTest,
                         ::testing::Values(std::make_tuple(3, 1, 1), std::make_tuple(3, 2, 1),
                                           std::make_tuple(3, 2, 0), std::make_tuple(1, 1, 0)));

TEST(LoraConvTest, AdapterOnABFloat16ConvComputesInFloat32) {
  torch::manual_seed(4);
  LoraCompatibleConv2d conv(4, 4, 3, 1, 1);
  conv->to(torch::kBFloat16);
  conv->EnableLora(2, 2);
  EXPECT_EQ(conv->lora_A()->weight.scalar_type(), torch::kFloat32);
  torch::NoGradGuard no_grad;
  conv->lora_B()->weight.normal_(0, 0.1);
  torch::Tensor out = conv(torch::randn({1, 4, 6, 6}).to(torch::kBFloat16));
  EXPECT_EQ(out.scalar_type(), torch::kBFloat16);
}

TEST(LoraConvTest, InjectsIntoExactlyTheTargetedConvolutionsOfTheUNet) {
  auto unet = TinyUNet(11);
  const std::vector<std::string> targets = {"conv1", "conv2", "proj_in"};
  auto trainable = InjectLora({"unet", unet.get()}, LoraOptions{.target_modules = targets});
  ASSERT_TRUE(trainable.ok()) << trainable.status();

  std::set<std::string> expected;
  for (const auto& item : unet->named_modules("", false)) {
    for (const std::string& target : targets) {
      if (EndsWithName(item.key(), target)) expected.insert(item.key());
    }
  }
  auto adapted = AdaptedLayers(*unet);
  std::set<std::string> got;
  for (const auto& [path, layer] : adapted) got.insert(path);
  EXPECT_EQ(got, expected);
  // One resnet in each of the 2 down blocks, 2 in the mid block and in each of the 2 up blocks.
  EXPECT_EQ(std::count_if(got.begin(), got.end(),
                          [](const std::string& p) { return EndsWithName(p, "conv1"); }),
            8);
  EXPECT_EQ(std::count_if(got.begin(), got.end(),
                          [](const std::string& p) { return EndsWithName(p, "proj_in"); }),
            4);  // down 0, mid, up 1 (two layers)
  EXPECT_EQ(trainable->size(), 2 * expected.size());

  auto conv1 = std::dynamic_pointer_cast<LoraCompatibleConv2dImpl>(adapted.at(kConv1));
  ASSERT_NE(conv1, nullptr);
  EXPECT_EQ(conv1->lora_A()->weight.sizes(), (std::vector<int64_t>{4, 32, 3, 3}));
  EXPECT_EQ(conv1->lora_B()->weight.sizes(), (std::vector<int64_t>{32, 4, 1, 1}));
  auto proj_in = std::dynamic_pointer_cast<LoraCompatibleConv2dImpl>(
      adapted.at("down_blocks.0.attentions.0.proj_in"));
  ASSERT_NE(proj_in, nullptr);
  EXPECT_EQ(proj_in->lora_A()->weight.sizes(), (std::vector<int64_t>{4, 32, 1, 1}));

  for (const auto& item : unet->named_parameters()) {
    const bool adapter = item.key().ends_with("lora_A.weight") ||
                         item.key().ends_with("lora_B.weight");
    EXPECT_EQ(item.value().requires_grad(), adapter) << item.key();
  }
  // The base model's state dict keys are those of diffusers, adapters aside.
  for (const auto& [key, tensor] : models::StateDict(*unet)) {
    EXPECT_EQ(key.find("lora_"), std::string::npos) << key;
  }
}

TEST(LoraConvTest, FreshConvAdaptersLeaveTheUNetOutputUnchanged) {
  auto unet = TinyUNet(12);
  UNetInputs in;
  torch::Tensor before = Forward(unet, in);
  ASSERT_TRUE(InjectLora({"unet", unet.get()},
                         LoraOptions{.target_modules = {"conv1", "conv2", "conv_shortcut",
                                                        "proj_in", "proj_out", "conv",
                                                        "conv_in", "conv_out"}})
                  .ok());
  EXPECT_TRUE(torch::equal(Forward(unet, in), before));
}

// Attention and every kind of UNet convolution.
const std::vector<std::string>& AllTargets() {
  static const auto* targets = new std::vector<std::string>{
      "to_q",     "to_v",     "conv1", "conv2",   "conv_shortcut",
      "proj_in",  "proj_out", "conv",  "conv_in", "conv_out"};
  return *targets;
}

class ConvRoundTripTest : public ::testing::TestWithParam<LoraKeyStyle> {};

TEST_P(ConvRoundTripTest, SaveLoadRestoresConvAdaptersAndOutputsExactly) {
  const LoraKeyStyle style = GetParam();
  auto dir = data::testing::FreshTempDir("lora_conv");
  const auto file = dir / "locon.safetensors";
  auto unet = TinyUNet(13);
  auto trainable = InjectLora({"unet", unet.get()},
                              LoraOptions{.rank = 3, .alpha = 6, .target_modules = AllTargets()});
  ASSERT_TRUE(trainable.ok()) << trainable.status();
  Randomize(*trainable, 130);
  LoraInfo info{.rank = 3,
                .alpha = 6,
                .target_modules = AllTargets(),
                .base_model_version = BaseModelVersion::kSd1};
  ASSERT_TRUE(SaveLora(file, {{"unet", unet.get()}}, info, style).ok());

  auto tensors = models::LoadSafetensors(file);
  ASSERT_TRUE(tensors.ok()) << tensors.status();
  const size_t adapters = AdaptedLayers(*unet).size();
  EXPECT_EQ(tensors->size(), (style == LoraKeyStyle::kKohya ? 3 : 2) * adapters);
  const std::string down_key = style == LoraKeyStyle::kKohya
                                   ? std::string(kKohyaConv1) + ".lora_down.weight"
                                   : "unet." + std::string(kConv1) + ".lora_A.weight";
  ASSERT_TRUE(tensors->contains(down_key));
  EXPECT_EQ(tensors->at(down_key).sizes(), (std::vector<int64_t>{3, 32, 3, 3}));

  // Into a plain model (adapters created from the file) and into one with fresh adapters.
  UNetInputs in;
  const torch::Tensor adapted = Forward(unet, in);
  auto plain = TinyUNet(13);
  auto loaded = LoadLora(file, {{"unet", plain.get()}});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->key_style, style);
  EXPECT_EQ(loaded->rank, 3);
  EXPECT_EQ(loaded->alpha, 6);
  ExpectSameAdapters(*unet, *plain);
  EXPECT_TRUE(torch::equal(Forward(plain, in), adapted));

  auto injected = TinyUNet(13);
  ASSERT_TRUE(InjectLora({"unet", injected.get()},
                         LoraOptions{.rank = 3, .alpha = 6, .target_modules = AllTargets()})
                  .ok());
  ASSERT_TRUE(LoadLora(file, {{"unet", injected.get()}}).ok());
  EXPECT_TRUE(torch::equal(Forward(injected, in), adapted));
}

INSTANTIATE_TEST_SUITE_P(Styles, ConvRoundTripTest,
                         ::testing::Values(LoraKeyStyle::kDiffusers, LoraKeyStyle::kKohya),
                         [](const auto& info) {
                           return info.param == LoraKeyStyle::kKohya ? "Kohya" : "Diffusers";
                         });

TEST(LoraConvTest, KohyaKeysOfConvolutionsAreLoConStyle) {
  auto dir = data::testing::FreshTempDir("lora_conv");
  auto unet = TinyUNet(14);
  auto trainable = InjectLora({"unet", unet.get()},
                              LoraOptions{.rank = 4, .alpha = 2, .target_modules = AllTargets()});
  ASSERT_TRUE(trainable.ok());
  Randomize(*trainable, 140);
  ASSERT_TRUE(SaveLora(dir / "k.safetensors", {{"unet", unet.get()}},
                       LoraInfo{.base_model_version = BaseModelVersion::kSd1},
                       LoraKeyStyle::kKohya)
                  .ok());
  auto tensors = models::LoadSafetensors(dir / "k.safetensors");
  ASSERT_TRUE(tensors.ok());

  const std::string name = kKohyaConv1;
  ASSERT_TRUE(tensors->contains(name + ".lora_down.weight"));
  EXPECT_EQ(tensors->at(name + ".lora_down.weight").sizes(), (std::vector<int64_t>{4, 32, 3, 3}));
  EXPECT_EQ(tensors->at(name + ".lora_up.weight").sizes(), (std::vector<int64_t>{32, 4, 1, 1}));
  EXPECT_EQ(tensors->at(name + ".alpha").dim(), 0);
  EXPECT_FLOAT_EQ(tensors->at(name + ".alpha").item<float>(), 2);
  for (const std::string other :
       {"lora_unet_down_blocks_1_resnets_0_conv_shortcut",
        "lora_unet_down_blocks_0_downsamplers_0_conv", "lora_unet_up_blocks_0_upsamplers_0_conv",
        "lora_unet_mid_block_attentions_0_proj_out", "lora_unet_conv_in", "lora_unet_conv_out"}) {
    ASSERT_TRUE(tensors->contains(other + ".lora_down.weight")) << other;
    EXPECT_EQ(tensors->at(other + ".lora_down.weight").dim(), 4) << other;
    EXPECT_EQ(tensors->at(other + ".lora_up.weight").dim(), 4) << other;
  }
  for (const auto& [path, layer] : AdaptedLayers(*unet)) {
    const std::string key = "lora_unet_" + KohyaStyle(path) + ".lora_down.weight";
    ASSERT_TRUE(tensors->contains(key)) << key;
    EXPECT_TRUE(torch::equal(tensors->at(key), layer->lora_A_weight())) << key;
  }
}

TEST(LoraConvTest, PeftMetadataListsTheConvTargets) {
  auto dir = data::testing::FreshTempDir("lora_conv");
  auto unet = TinyUNet(15);
  ASSERT_TRUE(InjectLora({"unet", unet.get()},
                         LoraOptions{.rank = 2, .alpha = 2, .target_modules = {"to_k", "conv2"}})
                  .ok());
  ASSERT_TRUE(SaveLora(dir / "d.safetensors", {{"unet", unet.get()}}, LoraInfo{}).ok());
  auto metadata = ReadMetadata(dir / "d.safetensors");
  ASSERT_TRUE(metadata.contains(kLoraAdapterMetadataKey));
  auto config = nlohmann::json::parse(metadata.at(kLoraAdapterMetadataKey));
  std::set<std::string> targets;
  for (const auto& target : config.at("unet.target_modules")) targets.insert(target);
  std::set<std::string> expected;
  for (const auto& [path, layer] : AdaptedLayers(*unet)) expected.insert(path);
  EXPECT_EQ(targets, expected);
  EXPECT_TRUE(targets.contains("down_blocks.0.resnets.0.conv2"));
  EXPECT_TRUE(targets.contains("up_blocks.1.resnets.1.conv2"));
  EXPECT_TRUE(targets.contains("mid_block.attentions.0.transformer_blocks.0.attn1.to_k"));
}

TEST(LoraConvTest, ConvShapeMismatchIsAnErrorNamingTheKey) {
  auto dir = data::testing::FreshTempDir("lora_conv");
  const std::string key = std::string(kKohyaConv1) + ".lora_down.weight";
  std::map<std::string, torch::Tensor> tensors = {
      {key, torch::zeros({4, 32, 1, 1})},  // conv1 is 3x3
      {std::string(kKohyaConv1) + ".lora_up.weight", torch::zeros({32, 4, 1, 1})}};
  ASSERT_TRUE(models::SaveSafetensors(dir / "bad.safetensors", tensors).ok());
  auto unet = TinyUNet(16);
  auto loaded = LoadLora(dir / "bad.safetensors", {{"unet", unet.get()}});
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(key));
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("shape"));
  EXPECT_TRUE(AdaptedLayers(*unet).empty());

  // A linear layer's adapter given to a 3x3 convolution.
  tensors = {{key, torch::zeros({4, 32})},
             {std::string(kKohyaConv1) + ".lora_up.weight", torch::zeros({32, 4})}};
  ASSERT_TRUE(models::SaveSafetensors(dir / "bad2.safetensors", tensors).ok());
  loaded = LoadLora(dir / "bad2.safetensors", {{"unet", unet.get()}});
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(key));
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("4-D"));
}

TEST(LoraConvTest, TwoDimensionalAdapterOfAOneByOneConvIsAccepted) {
  // Some converters write proj_in's 1x1 LoCon weights squeezed to 2-D.
  auto dir = data::testing::FreshTempDir("lora_conv");
  const std::string path = "down_blocks.0.attentions.0.proj_in";
  torch::manual_seed(17);
  std::map<std::string, torch::Tensor> tensors = {
      {"unet." + path + ".lora_A.weight", torch::randn({2, 32})},
      {"unet." + path + ".lora_B.weight", torch::randn({32, 2})}};
  ASSERT_TRUE(models::SaveSafetensors(dir / "squeezed.safetensors", tensors).ok());
  auto unet = TinyUNet(17);
  auto loaded = LoadLora(dir / "squeezed.safetensors", {{"unet", unet.get()}});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  auto adapted = AdaptedLayers(*unet);
  ASSERT_EQ(adapted.size(), 1u);
  EXPECT_TRUE(torch::equal(adapted.at(path)->lora_A_weight(),
                           tensors.at("unet." + path + ".lora_A.weight").reshape({2, 32, 1, 1})));
  EXPECT_TRUE(torch::equal(adapted.at(path)->lora_B_weight(),
                           tensors.at("unet." + path + ".lora_B.weight").reshape({32, 2, 1, 1})));
}

}  // namespace
}  // namespace easel::lora
