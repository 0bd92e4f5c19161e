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

TEST(CLIPTextModelTest, ResizeKeepsRowsAndCopiesTheInitializerRow) {
  torch::manual_seed(3);
  CLIPTextModel model(TinyTextEncoderConfig());
  const torch::Tensor weight = model->token_embedding()->weight;
  const torch::Tensor old = weight.detach().clone();
  ASSERT_TRUE(model->ResizeTokenEmbeddings(517, 7).ok());
  EXPECT_TRUE(model->token_embedding()->weight.is_same(weight)) << "same parameter, new data";
  ASSERT_EQ(weight.sizes(), (std::vector<int64_t>{517, 32}));
  EXPECT_TRUE(torch::equal(weight.slice(0, 0, 514), old));
  for (int64_t row = 514; row < 517; ++row) EXPECT_TRUE(torch::equal(weight[row], old[7]));
  EXPECT_EQ(model->config().vocab_size, 517);
  EXPECT_EQ(model->token_embedding()->options.num_embeddings(), 517);
  EXPECT_EQ(StateDict(*model).at("text_model.embeddings.token_embedding.weight").sizes(),
            weight.sizes());
  EXPECT_TRUE(weight.requires_grad());
}

TEST(CLIPTextModelTest, ResizeWithoutInitializerUsesTheMeanRowAndCanShrink) {
  torch::manual_seed(4);
  CLIPTextModel model(TinyTextEncoderConfig());
  const torch::Tensor old = model->token_embedding()->weight.detach().clone();
  ASSERT_TRUE(model->ResizeTokenEmbeddings(515).ok());
  EXPECT_TRUE(torch::allclose(model->token_embedding()->weight[514], old.mean(0)));
  ASSERT_TRUE(model->ResizeTokenEmbeddings(514).ok());
  EXPECT_TRUE(torch::equal(model->token_embedding()->weight, old));
}

TEST(CLIPTextModelTest, ResizeRejectsDroppingSpecialRowsOrAMissingInitializer) {
  CLIPTextModel model(TinyTextEncoderConfig());
  absl::Status too_small = model->ResizeTokenEmbeddings(513);  // EOS is id 513
  ASSERT_FALSE(too_small.ok());
  EXPECT_THAT(too_small.message(), ::testing::HasSubstr("514"));
  absl::Status bad_initializer = model->ResizeTokenEmbeddings(520, 514);
  ASSERT_FALSE(bad_initializer.ok());
  EXPECT_THAT(bad_initializer.message(), ::testing::HasSubstr("514"));
  EXPECT_EQ(model->token_embedding()->weight.size(0), 514);
}

TEST(CLIPTextModelTest, AddedIdsAboveEosPoolAtEosAndTrainTheirRow) {
  torch::manual_seed(5);
  CLIPTextModel model(TinyTextEncoderConfig());
  ASSERT_TRUE(model->ResizeTokenEmbeddings(516, 20).ok());
  // Id 515 is the largest id in the row; pooling must still pick the EOS (position 3).
  torch::Tensor ids = torch::tensor({512, 20, 515, 513, 513}, torch::kLong).unsqueeze(0);
  CLIPTextOutput out = model(ids);
  EXPECT_TRUE(torch::equal(out.pooler_output[0], out.last_hidden_state[0][3]));
  out.pooler_output.sum().backward();
  const torch::Tensor grad = model->token_embedding()->weight.grad();
  ASSERT_TRUE(grad.defined());
  EXPECT_GT(grad[515].abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(grad[514].abs().sum().item<float>(), 0.0f) << "id 514 is not in the prompt";
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
