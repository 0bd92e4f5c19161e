#include "trainer/lora/lora.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tests/trainer/data/dataset_fixture.h"
#include "trainer/models/clip_text_model.h"
#include "trainer/models/diffusers_model.h"
#include "trainer/models/unet_2d_condition.h"
#include "trainer/models/weights.h"

namespace easel::lora {
namespace {

using ::testing::HasSubstr;
using models::CLIPTextModel;
using models::UNet2DConditionModel;

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(),
                                                      suffix) == 0;
}

UNet2DConditionModel TinyUNet(uint64_t seed) {
  torch::manual_seed(seed);
  return UNet2DConditionModel(models::TinyUNetConfig());
}

// Gives every adapter non-zero, seed-dependent values so a round trip is observable.
void Randomize(const std::vector<NamedParameter>& parameters, uint64_t seed) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  for (const auto& p : parameters) p.parameter.normal_(0, 0.1);
}

struct UNetInputs {
  torch::Tensor sample = torch::randn({2, 4, 32, 32});
  torch::Tensor timesteps = torch::tensor({10, 700}, torch::kLong);
  torch::Tensor hidden = torch::randn({2, 77, 32});
};

TEST(LoraTest, InjectsIntoTargetsOnlyAndFreezesEverythingElse) {
  auto unet = TinyUNet(1);
  auto trainable = InjectLora({"unet", unet.get()}, LoraOptions{});
  ASSERT_TRUE(trainable.ok()) << trainable.status();
  ASSERT_FALSE(trainable->empty());
  std::set<std::string> names;
  for (const auto& p : *trainable) {
    names.insert(p.name);
    EXPECT_TRUE(p.parameter.requires_grad()) << p.name;
    EXPECT_TRUE(p.name.rfind("unet.", 0) == 0) << p.name;
    bool target = false;
    for (std::string t : {"to_q", "to_k", "to_v", "to_out.0"}) {
      target |= EndsWith(p.name, "." + t + ".lora_A.weight") ||
                EndsWith(p.name, "." + t + ".lora_B.weight");
    }
    EXPECT_TRUE(target) << p.name;
  }
  // Every attention projection got one adapter (A and B).
  int attention_projections = 0;
  for (const auto& item : unet->named_modules("", false)) {
    for (std::string t : {".to_q", ".to_k", ".to_v", ".to_out.0"}) {
      if (EndsWith(item.key(), t)) ++attention_projections;
    }
  }
  EXPECT_EQ(static_cast<int>(trainable->size()), 2 * attention_projections);
  for (const auto& item : unet->named_parameters()) {
    EXPECT_EQ(item.value().requires_grad(), names.contains("unet." + item.key())) << item.key();
  }
}

TEST(LoraTest, FreshAdapterLeavesOutputUnchanged) {
  auto unet = TinyUNet(2);
  UNetInputs in;
  torch::NoGradGuard no_grad;
  torch::Tensor before = unet->forward(in.sample, in.timesteps, in.hidden);
  ASSERT_TRUE(InjectLora({"unet", unet.get()}, LoraOptions{}).ok());
  torch::Tensor after = unet->forward(in.sample, in.timesteps, in.hidden);
  EXPECT_TRUE(torch::allclose(before, after));
}

TEST(LoraTest, NoMatchingModuleIsInvalidArgument) {
  auto unet = TinyUNet(3);
  LoraOptions options;
  options.target_modules = {"no_such_layer"};
  auto trainable = InjectLora({"unet", unet.get()}, options);
  ASSERT_FALSE(trainable.ok());
  EXPECT_EQ(trainable.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(trainable.status().message()), HasSubstr("no_such_layer"));
}

TEST(LoraTest, SaveLoadRoundTripRestoresAdaptersAndOutputs) {
  auto dir = data::testing::FreshTempDir("lora");
  LoraOptions options{.rank = 3, .alpha = 6};
  auto unet = TinyUNet(4);
  auto trainable = InjectLora({"unet", unet.get()}, options);
  ASSERT_TRUE(trainable.ok());
  Randomize(*trainable, 40);
  LoraInfo info{.rank = 3, .alpha = 6, .trigger_phrase = "TOK", .base_model = "tiny",
                .target_modules = options.target_modules};
  ASSERT_TRUE(SaveLora(dir / "lora.safetensors", {{"unet", unet.get()}}, info).ok());

  // Keys and metadata in the file are diffusers/peft style.
  auto tensors = models::LoadSafetensors(dir / "lora.safetensors");
  ASSERT_TRUE(tensors.ok()) << tensors.status();
  EXPECT_EQ(tensors->size(), trainable->size());
  for (const auto& p : *trainable) {
    ASSERT_TRUE(tensors->contains(p.name)) << p.name;
    EXPECT_TRUE(torch::equal(tensors->at(p.name), p.parameter.detach()));
  }

  // Same base weights, fresh adapters: loading restores the adapted outputs exactly.
  auto other = TinyUNet(4);
  auto other_trainable = InjectLora({"unet", other.get()}, options);
  ASSERT_TRUE(other_trainable.ok());
  auto loaded = LoadLora(dir / "lora.safetensors", {{"unet", other.get()}});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->rank, 3);
  EXPECT_EQ(loaded->alpha, 6);
  EXPECT_EQ(loaded->trigger_phrase, "TOK");
  EXPECT_EQ(loaded->base_model, "tiny");
  EXPECT_EQ(loaded->target_modules, options.target_modules);
  UNetInputs in;
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(unet->forward(in.sample, in.timesteps, in.hidden),
                              other->forward(in.sample, in.timesteps, in.hidden)));

  // A model without adapters gets them from the file (applying a LoRA).
  auto plain = TinyUNet(4);
  auto applied = LoadLora(dir / "lora.safetensors", {{"unet", plain.get()}});
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_TRUE(torch::allclose(unet->forward(in.sample, in.timesteps, in.hidden),
                              plain->forward(in.sample, in.timesteps, in.hidden)));
}

TEST(LoraTest, UNetAndTextEncoderSaveUnderTheirPrefixes) {
  auto dir = data::testing::FreshTempDir("lora");
  auto unet = TinyUNet(5);
  CLIPTextModel text_encoder(models::TinyTextEncoderConfig());
  auto unet_params = InjectLora({"unet", unet.get()}, LoraOptions{});
  LoraOptions text_options;
  text_options.target_modules = {"q_proj", "k_proj", "v_proj", "out_proj"};
  auto text_params = InjectLora({"text_encoder", text_encoder.get()}, text_options);
  ASSERT_TRUE(unet_params.ok() && text_params.ok());
  Randomize(*text_params, 50);
  std::vector<LoraPart> parts = {{"unet", unet.get()}, {"text_encoder", text_encoder.get()}};
  ASSERT_TRUE(SaveLora(dir / "both.safetensors", parts, LoraInfo{.rank = 4, .alpha = 4}).ok());
  auto tensors = models::LoadSafetensors(dir / "both.safetensors");
  ASSERT_TRUE(tensors.ok());
  EXPECT_TRUE(tensors->contains(
      "text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight"));
  EXPECT_EQ(tensors->size(), unet_params->size() + text_params->size());

  CLIPTextModel other_text(models::TinyTextEncoderConfig());
  auto other_unet = TinyUNet(5);
  auto loaded = LoadLora(dir / "both.safetensors",
                         {{"unet", other_unet.get()}, {"text_encoder", other_text.get()}});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  for (const auto& p : *text_params) {
    EXPECT_TRUE(torch::equal(tensors->at(p.name), p.parameter.detach())) << p.name;
  }
  // Loading a two-part file into the UNet alone reports the text encoder keys.
  auto unet_only = TinyUNet(5);
  auto partial = LoadLora(dir / "both.safetensors", {{"unet", unet_only.get()}});
  ASSERT_FALSE(partial.ok());
  EXPECT_THAT(std::string(partial.status().message()), HasSubstr("text_encoder."));
}

TEST(LoraTest, LoadErrorsNameMissingKeysAndShapeMismatches) {
  auto dir = data::testing::FreshTempDir("lora");
  auto unet = TinyUNet(6);
  auto trainable = InjectLora({"unet", unet.get()}, LoraOptions{});
  ASSERT_TRUE(trainable.ok());
  auto state = LoraStateDict({"unet", unet.get()});
  const std::string dropped = trainable->front().name;
  state.erase(dropped);
  ASSERT_TRUE(models::SaveSafetensors(dir / "partial.safetensors", state,
                                      {{"easel.format", kDiffusersLoraFormat}})
                  .ok());
  auto other = TinyUNet(6);
  ASSERT_TRUE(InjectLora({"unet", other.get()}, LoraOptions{}).ok());
  auto loaded = LoadLora(dir / "partial.safetensors", {{"unet", other.get()}});
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(dropped));

  // A rank-8 file does not fit rank-4 adapters.
  auto rank8 = TinyUNet(6);
  ASSERT_TRUE(InjectLora({"unet", rank8.get()}, LoraOptions{.rank = 8, .alpha = 8}).ok());
  ASSERT_TRUE(SaveLora(dir / "rank8.safetensors", {{"unet", rank8.get()}},
                       LoraInfo{.rank = 8, .alpha = 8})
                  .ok());
  loaded = LoadLora(dir / "rank8.safetensors", {{"unet", other.get()}});
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("shape"));

  loaded = LoadLora(dir / "does-not-exist.safetensors", {{"unet", other.get()}});
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("does-not-exist.safetensors"));
}

// Attention projections alone, and LoCon-style with the resnets' convolutions too.
class LoraTrainingStepTest : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(LoraTrainingStepTest, ChangesOnlyTheAdapters) {
  auto unet = TinyUNet(7);
  std::map<std::string, torch::Tensor> base_before;
  for (const auto& item : unet->named_parameters()) {
    base_before[item.key()] = item.value().detach().clone();
  }
  auto trainable = InjectLora({"unet", unet.get()}, LoraOptions{.target_modules = GetParam()});
  ASSERT_TRUE(trainable.ok());
  for (const std::string& target : GetParam()) {
    EXPECT_TRUE(std::any_of(trainable->begin(), trainable->end(), [&](const NamedParameter& p) {
      return p.name.find("." + target + ".lora_B.weight") != std::string::npos;
    })) << "no adapter on " << target;
  }
  std::vector<torch::Tensor> parameters;
  std::map<std::string, torch::Tensor> lora_before;
  for (const auto& p : *trainable) {
    parameters.push_back(p.parameter);
    lora_before[p.name] = p.parameter.detach().clone();
  }
  torch::optim::AdamW optimizer(parameters, torch::optim::AdamWOptions(1e-2).weight_decay(1e-2));
  UNetInputs in;
  for (int step = 0; step < 3; ++step) {
    optimizer.zero_grad();
    torch::Tensor loss =
        torch::mse_loss(unet->forward(in.sample, in.timesteps, in.hidden), in.sample);
    loss.backward();
    if (step == 0) {
      for (const auto& item : unet->named_parameters()) {
        const bool is_lora = EndsWith(item.key(), "lora_A.weight") ||
                             EndsWith(item.key(), "lora_B.weight");
        EXPECT_EQ(item.value().grad().defined(), is_lora) << item.key();
      }
    }
    optimizer.step();
  }
  for (const auto& [name, before] : base_before) {
    auto* now = unet->named_parameters().find(name);
    ASSERT_NE(now, nullptr) << name;
    EXPECT_TRUE(torch::equal(*now, before)) << name;
  }
  int changed = 0;
  for (const auto& p : *trainable) changed += !torch::equal(p.parameter, lora_before[p.name]);
  EXPECT_EQ(changed, static_cast<int>(trainable->size()));
}

INSTANTIATE_TEST_SUITE_P(
    Targets, LoraTrainingStepTest,
    ::testing::Values(std::vector<std::string>{"to_q", "to_k", "to_v", "to_out.0"},
                      std::vector<std::string>{"to_q", "conv1", "conv2", "conv_shortcut",
                                               "proj_out"}));

}  // namespace
}  // namespace easel::lora
