#include "trainer/models/unet_2d_condition.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "trainer/models/diffusers_model.h"
#include "trainer/models/embeddings.h"
#include "trainer/models/lora_compatible_linear.h"
#include "trainer/models/weights.h"

namespace easel::models {
namespace {

using ::testing::HasSubstr;

TEST(UNetTest, ForwardKeepsSampleShape) {
  torch::manual_seed(0);
  UNet2DConditionModel unet(TinyUNetConfig());
  torch::NoGradGuard no_grad;
  torch::Tensor sample = torch::randn({2, 4, 32, 32});
  torch::Tensor context = torch::randn({2, 7, 32});
  torch::Tensor out = unet(sample, torch::tensor({10, 500}, torch::kLong), context);
  EXPECT_EQ(out.sizes(), sample.sizes());
  EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
  torch::Tensor float_steps = unet(sample, torch::tensor({10.0f, 500.0f}), context);
  EXPECT_TRUE(torch::allclose(out, float_steps, 1e-5, 1e-5));
  // A scalar timestep broadcasts over the batch; odd sizes still come back whole.
  torch::Tensor odd = torch::randn({1, 4, 20, 20});
  EXPECT_EQ(unet(odd, torch::tensor(3), context.slice(0, 0, 1)).sizes(), odd.sizes());
}

TEST(UNetTest, StateDictUsesDiffusersNames) {
  UNet2DConditionModel unet(TinyUNetConfig());
  auto state = StateDict(*unet);
  for (const char* name :
       {"conv_in.weight", "time_embedding.linear_1.weight", "time_embedding.linear_2.bias",
        "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight",
        "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight",
        "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0.weight",
        "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj.weight",
        "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.2.weight",
        "down_blocks.0.attentions.0.transformer_blocks.0.norm3.weight",
        "down_blocks.0.attentions.0.norm.weight", "down_blocks.0.attentions.0.proj_in.weight",
        "down_blocks.0.resnets.0.time_emb_proj.weight", "down_blocks.0.downsamplers.0.conv.weight",
        "mid_block.resnets.1.conv2.weight", "mid_block.attentions.0.proj_out.weight",
        "up_blocks.0.resnets.0.conv_shortcut.weight", "up_blocks.0.upsamplers.0.conv.weight",
        "up_blocks.1.attentions.0.proj_out.weight", "conv_norm_out.weight", "conv_out.bias"}) {
    EXPECT_TRUE(state.count(name)) << name;
  }
  EXPECT_FALSE(state.count("down_blocks.1.downsamplers.0.conv.weight"));
  EXPECT_FALSE(state.count("up_blocks.1.upsamplers.0.conv.weight"));
  EXPECT_EQ(state.at("down_blocks.0.attentions.0.proj_in.weight").dim(), 4);
  // Up block 0 has layers_per_block + 1 resnets whose inputs concatenate the skips.
  EXPECT_TRUE(state.count("up_blocks.0.resnets.1.conv1.weight"));
  EXPECT_EQ(state.at("up_blocks.0.resnets.0.conv1.weight").size(1), 64 + 64);
  EXPECT_EQ(state.at("up_blocks.1.resnets.1.conv1.weight").size(1), 32 + 32);
}

TEST(UNetTest, LinearProjectionUsesLinearLayers) {
  UNet2DConditionConfig config = TinyUNetConfig();
  config.use_linear_projection = true;
  UNet2DConditionModel unet(config);
  auto state = StateDict(*unet);
  EXPECT_EQ(state.at("down_blocks.0.attentions.0.proj_in.weight").dim(), 2);
  torch::NoGradGuard no_grad;
  EXPECT_EQ(unet(torch::randn({1, 4, 16, 16}), torch::tensor({1}), torch::randn({1, 3, 32})).sizes(),
            (std::vector<int64_t>{1, 4, 16, 16}));
}

TEST(UNetTest, ConfigJsonRoundTripsAndAcceptsDiffusersForms) {
  nlohmann::json json = TinyUNetConfig().ToJson();
  json["attention_head_dim"] = 2;
  auto config = UNet2DConditionConfig::FromJson(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->attention_head_dim, (std::vector<int64_t>{2}));
  EXPECT_EQ(config->HeadsPerBlock(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(config->block_out_channels, (std::vector<int64_t>{32, 64}));
  auto again = UNet2DConditionConfig::FromJson(config->ToJson());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->ToJson(), config->ToJson());
}

TEST(UNetTest, UnknownBlockTypesAreNamed) {
  nlohmann::json json = TinyUNetConfig().ToJson();
  json["down_block_types"] = {"CrossAttnDownBlock2D", "SimpleCrossAttnDownBlock2D"};
  auto config = UNet2DConditionConfig::FromJson(json);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("SimpleCrossAttnDownBlock2D"));

  json = TinyUNetConfig().ToJson();
  json["block_out_channels"] = {32, 64, 64};
  EXPECT_FALSE(UNet2DConditionConfig::FromJson(json).ok());
  json = TinyUNetConfig().ToJson();
  json["layers_per_block"] = "two";
  EXPECT_THAT(UNet2DConditionConfig::FromJson(json).status().message(),
              HasSubstr("layers_per_block"));
}

TEST(UNetTest, TimestepEmbeddingMatchesSinusoidFormula) {
  // flip_sin_to_cos puts cosines first; frequency i is exp(-ln(10000) * i / (half - shift)).
  torch::Tensor emb = TimestepEmbeddingSinusoidal(torch::tensor({0.0f, 3.0f}), 8, true, 1.0);
  ASSERT_EQ(emb.sizes(), (std::vector<int64_t>{2, 8}));
  EXPECT_TRUE(torch::allclose(emb[0].slice(0, 0, 4), torch::ones({4})));
  EXPECT_TRUE(torch::allclose(emb[0].slice(0, 4), torch::zeros({4})));
  const double freq1 = std::exp(-std::log(10000.0) * 1 / 3.0);
  EXPECT_NEAR(emb[1][1].item<double>(), std::cos(3.0 * freq1), 1e-5);
  EXPECT_NEAR(emb[1][5].item<double>(), std::sin(3.0 * freq1), 1e-5);
}

TEST(UNetTest, LoraOnAttentionKeepsOutputUntilTrained) {
  torch::manual_seed(3);
  UNet2DConditionModel unet(TinyUNetConfig());
  torch::Tensor sample = torch::randn({1, 4, 16, 16});
  torch::Tensor context = torch::randn({1, 5, 32});
  torch::NoGradGuard no_grad;
  torch::Tensor before = unet(sample, torch::tensor({7}), context);
  std::vector<std::shared_ptr<LoraCompatibleLinearImpl>> adapted;
  for (const auto& item : unet->named_modules()) {
    const std::string& name = item.key();
    if (name.size() > 5 && name.substr(name.size() - 5) == ".to_q") {
      auto linear = std::dynamic_pointer_cast<LoraCompatibleLinearImpl>(item.value());
      ASSERT_NE(linear, nullptr) << name;
      linear->EnableLora(4, 4.0);
      adapted.push_back(linear);
    }
  }
  ASSERT_FALSE(adapted.empty());
  std::set<std::string> names;
  for (const auto& item : unet->named_parameters()) names.insert(item.key());
  EXPECT_TRUE(names.count("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight"));
  EXPECT_TRUE(names.count("mid_block.attentions.0.transformer_blocks.0.attn2.to_q.lora_B.weight"));
  EXPECT_FALSE(StateDict(*unet).count(
      "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight"));
  EXPECT_TRUE(torch::equal(unet(sample, torch::tensor({7}), context), before));
  for (auto& linear : adapted) linear->lora_B()->weight.normal_(0, 0.1);
  EXPECT_FALSE(torch::allclose(unet(sample, torch::tensor({7}), context), before));
}

}  // namespace
}  // namespace easel::models
