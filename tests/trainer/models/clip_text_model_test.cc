#include "trainer/models/clip_text_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "trainer/models/diffusers_model.h"
#include "trainer/models/weights.h"

namespace easel::models {
namespace {

TEST(CLIPTextModelTest, OutputsHaveExpectedShapes) {
  torch::manual_seed(0);
  CLIPTextModel model(TinyTextEncoderConfig());
  torch::NoGradGuard no_grad;
  torch::Tensor ids = torch::randint(0, 512, {2, 77}, torch::kLong);
  CLIPTextOutput out = model(ids);
  EXPECT_EQ(out.last_hidden_state.sizes(), (std::vector<int64_t>{2, 77, 32}));
  EXPECT_EQ(out.pooler_output.sizes(), (std::vector<int64_t>{2, 32}));
  ASSERT_EQ(out.hidden_states.size(), 3u);
  EXPECT_EQ(out.hidden_states[2].sizes(), out.last_hidden_state.sizes());
}

TEST(CLIPTextModelTest, AttentionIsCausal) {
  torch::manual_seed(1);
  CLIPTextModel model(TinyTextEncoderConfig());
  torch::NoGradGuard no_grad;
  torch::Tensor ids = torch::randint(0, 512, {1, 10}, torch::kLong);
  torch::Tensor changed = ids.clone();
  changed[0][7] = (ids[0][7].item<int64_t>() + 1) % 512;
  torch::Tensor a = model(ids).last_hidden_state;
  torch::Tensor b = model(changed).last_hidden_state;
  EXPECT_TRUE(torch::allclose(a.slice(1, 0, 7), b.slice(1, 0, 7), 1e-5, 1e-6));
  EXPECT_FALSE(torch::allclose(a.slice(1, 7), b.slice(1, 7)));
}

TEST(CLIPTextModelTest, PoolsAtFirstEosToken) {
  torch::manual_seed(2);
  CLIPTextModel model(TinyTextEncoderConfig());
  torch::NoGradGuard no_grad;
  // BOS, two tokens, EOS, then EOS padding: pooled output is position 3, not the last EOS.
  torch::Tensor ids = torch::tensor({512, 20, 30, 513, 513, 513}, torch::kLong).unsqueeze(0);
  CLIPTextOutput out = model(ids);
  EXPECT_TRUE(torch::equal(out.pooler_output[0], out.last_hidden_state[0][3]));
}

TEST(CLIPTextModelTest, StateDictUsesTransformersNames) {
  CLIPTextModel model(TinyTextEncoderConfig());
  auto state = StateDict(*model);
  for (const char* name : {"text_model.embeddings.token_embedding.weight",
                           "text_model.embeddings.position_embedding.weight",
                           "text_model.encoder.layers.0.self_attn.q_proj.weight",
                           "text_model.encoder.layers.1.self_attn.out_proj.bias",
                           "text_model.encoder.layers.0.layer_norm1.weight",
                           "text_model.encoder.layers.0.mlp.fc1.weight",
                           "text_model.encoder.layers.0.mlp.fc2.bias",
                           "text_model.encoder.layers.1.layer_norm2.bias",
                           "text_model.final_layer_norm.weight"}) {
    EXPECT_TRUE(state.count(name)) << name;
  }
  EXPECT_EQ(state.at("text_model.embeddings.token_embedding.weight").sizes(),
            (std::vector<int64_t>{514, 32}));
  EXPECT_TRUE(model->token_embedding()->weight.is_same(
      state.at("text_model.embeddings.token_embedding.weight")));
}

TEST(CLIPTextModelTest, ConfigRejectsUnknownActivation) {
  nlohmann::json json = TinyTextEncoderConfig().ToJson();
  auto config = CLIPTextConfig::FromJson(json);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->ToJson(), json);
  json["hidden_act"] = "relu";
  auto bad = CLIPTextConfig::FromJson(json);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), ::testing::HasSubstr("relu"));
}

}  // namespace
}  // namespace easel::models
