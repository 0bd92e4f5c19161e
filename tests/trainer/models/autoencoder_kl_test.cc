#include "trainer/models/autoencoder_kl.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "trainer/models/diffusers_model.h"
#include "trainer/models/weights.h"

namespace easel::models {
namespace {

TEST(AutoencoderKLTest, EncodesAndDecodesAtEightfoldScale) {
  torch::manual_seed(0);
  AutoencoderKL vae(TinyVaeConfig());
  torch::NoGradGuard no_grad;
  torch::Tensor pixels = torch::rand({2, 3, 64, 64}) * 2 - 1;
  LatentDistribution dist = vae->Encode(pixels);
  EXPECT_EQ(dist.mean.sizes(), (std::vector<int64_t>{2, 4, 32, 32}));
  EXPECT_EQ(dist.logvar.sizes(), dist.mean.sizes());
  EXPECT_LE(dist.logvar.max().item<float>(), 20.0f);
  EXPECT_GE(dist.logvar.min().item<float>(), -30.0f);
  EXPECT_TRUE(torch::equal(dist.Sample(torch::zeros_like(dist.mean)), dist.mean));
  torch::Tensor noise = torch::ones_like(dist.mean);
  EXPECT_TRUE(torch::allclose(dist.Sample(noise), dist.mean + torch::exp(0.5 * dist.logvar)));
  EXPECT_EQ(dist.Sample().sizes(), dist.mean.sizes());
  torch::Tensor decoded = vae->Decode(dist.Mode());
  EXPECT_EQ(decoded.sizes(), pixels.sizes());
  EXPECT_DOUBLE_EQ(vae->scaling_factor(), 0.18215);
}

TEST(AutoencoderKLTest, StateDictUsesDiffusersNames) {
  AutoencoderKL vae(TinyVaeConfig());
  auto state = StateDict(*vae);
  for (const char* name :
       {"encoder.conv_in.weight", "encoder.down_blocks.0.resnets.0.conv1.weight",
        "encoder.down_blocks.0.downsamplers.0.conv.weight",
        "encoder.down_blocks.1.resnets.0.conv_shortcut.weight",
        "encoder.mid_block.attentions.0.group_norm.weight", "encoder.mid_block.attentions.0.to_q.weight",
        "encoder.mid_block.attentions.0.to_q.bias", "encoder.mid_block.attentions.0.to_out.0.weight",
        "encoder.mid_block.resnets.1.norm2.weight", "encoder.conv_norm_out.weight",
        "encoder.conv_out.weight", "quant_conv.weight", "post_quant_conv.weight",
        "decoder.conv_in.weight", "decoder.mid_block.attentions.0.to_v.weight",
        "decoder.up_blocks.0.resnets.1.conv2.weight", "decoder.up_blocks.0.upsamplers.0.conv.weight",
        "decoder.up_blocks.1.resnets.0.conv_shortcut.weight", "decoder.conv_out.bias"}) {
    EXPECT_TRUE(state.count(name)) << name;
  }
  EXPECT_FALSE(state.count("encoder.down_blocks.1.downsamplers.0.conv.weight"));
  EXPECT_FALSE(state.count("decoder.up_blocks.1.upsamplers.0.conv.weight"));
  EXPECT_FALSE(state.count("encoder.down_blocks.0.resnets.0.time_emb_proj.weight"));
}

TEST(AutoencoderKLTest, ConfigNamesUnknownBlockTypes) {
  nlohmann::json json = TinyVaeConfig().ToJson();
  auto config = AutoencoderKLConfig::FromJson(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ToJson(), json);
  json["up_block_types"] = {"UpDecoderBlock2D", "AttnUpDecoderBlock2D"};
  auto bad = AutoencoderKLConfig::FromJson(json);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), ::testing::HasSubstr("AttnUpDecoderBlock2D"));
}

}  // namespace
}  // namespace easel::models
