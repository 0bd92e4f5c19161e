#include "trainer/embeddings/trainable_token_rows.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tests/trainer/embeddings/tiny_text_models.h"
#include "trainer/embeddings/textual_inversion.h"

namespace easel::embeddings {
namespace {

using testing::PromptIds;
using testing::TempDir;
using testing::TinyTextModel;

TEST(TrainableTokenRowsTest, OnlyTheTokenRowsMoveUnderAdamWWithWeightDecay) {
  TempDir dir;
  models::DiffusersModel model = TinyTextModel(dir.path(), 11, /*sdxl=*/false);
  auto ids = AddPlaceholderToken(*model.tokenizer, model.text_encoder, "<tok>", 2, "a");
  ASSERT_TRUE(ids.ok()) << ids.status();
  auto rows = TrainableTokenRows::Create(model.text_encoder, *ids);
  ASSERT_TRUE(rows.ok()) << rows.status();
  const torch::Tensor before = rows->parameter().detach().clone();
  torch::optim::AdamW optimizer({rows->parameter()},
                                torch::optim::AdamWOptions(1e-2).weight_decay(0.1));
  const torch::Tensor prompt = PromptIds(*model.tokenizer, "a photo of <tok>");
  const torch::Tensor target = torch::randn({1, 32});
  for (int step = 0; step < 3; ++step) {
    optimizer.zero_grad();
    torch::Tensor loss = (model.text_encoder->forward(prompt).pooler_output - target).pow(2).mean();
    loss.backward();
    rows->ZeroFrozenGradients();
    const torch::Tensor grad = rows->parameter().grad();
    EXPECT_EQ(grad.slice(0, 0, 514).abs().sum().item<float>(), 0.0f);
    optimizer.step();
    rows->RestoreFrozenRows();
  }
  const torch::Tensor after = rows->parameter().detach();
  EXPECT_TRUE(torch::equal(after.slice(0, 0, 514), before.slice(0, 0, 514)));
  EXPECT_FALSE(torch::equal(after.slice(0, 514), before.slice(0, 514)));
  EXPECT_TRUE(torch::equal(rows->Vectors(), after.slice(0, 514, 516)));
}

TEST(TrainableTokenRowsTest, RejectsRowsTheTableLacks) {
  TempDir dir;
  models::DiffusersModel model = TinyTextModel(dir.path(), 12, /*sdxl=*/false);
  auto rows = TrainableTokenRows::Create(model.text_encoder, {514});
  ASSERT_FALSE(rows.ok());
  EXPECT_THAT(rows.status().message(), ::testing::HasSubstr("514"));
  EXPECT_FALSE(TrainableTokenRows::Create(model.text_encoder, {}).ok());
}

}  // namespace
}  // namespace easel::embeddings
