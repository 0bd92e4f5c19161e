#include "trainer/embeddings/textual_inversion.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tests/trainer/embeddings/tiny_text_models.h"
#include "trainer/models/weights.h"

namespace easel::embeddings {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::kWidth;
using testing::kWidth2;
using testing::PromptIds;
using testing::TempDir;
using testing::TinyTextModel;

constexpr char kPrompt[] = "a photo of <tok> on a table";

// Both encoders' outputs for a prompt, under no_grad.
std::vector<torch::Tensor> Encode(models::DiffusersModel& model, const std::string& prompt) {
  torch::NoGradGuard no_grad;
  models::CLIPTextOutput out = model.text_encoder->forward(PromptIds(*model.tokenizer, prompt));
  std::vector<torch::Tensor> outputs = {out.last_hidden_state, out.pooler_output};
  if (!model.text_encoder_2.is_empty()) {
    models::CLIPTextOutput out_2 =
        model.text_encoder_2->forward(PromptIds(*model.tokenizer_2, prompt));
    outputs.push_back(out_2.hidden_states[out_2.hidden_states.size() - 2]);
    outputs.push_back(out_2.text_embeds);
  }
  return outputs;
}

void ExpectEqualOutputs(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "output " << i;
}

// Gives the token's rows random values, as training would.
void Train(models::CLIPTextModel& text_encoder, const std::vector<int64_t>& ids) {
  torch::NoGradGuard no_grad;
  torch::Tensor weight = text_encoder->token_embedding()->weight;
  for (int64_t id : ids) weight[id].copy_(torch::randn({weight.size(1)}));
}

TEST(MultiVectorTokenNamesTest, FollowsDiffusers) {
  EXPECT_THAT(MultiVectorTokenNames("<tok>", 3), ElementsAre("<tok>", "<tok>_1", "<tok>_2"));
  EXPECT_THAT(MultiVectorTokenNames("<tok>", 1), ElementsAre("<tok>"));
}

TEST(TextualInversionTest, PlaceholderTokenStartsFromTheInitializerRow) {
  TempDir dir;
  models::DiffusersModel model = TinyTextModel(dir.path(), 1, /*sdxl=*/false);
  const int64_t initializer = model.tokenizer->TokenId("a</w>");
  const torch::Tensor old = model.text_encoder->token_embedding()->weight.detach().clone();
  auto ids = AddPlaceholderToken(*model.tokenizer, model.text_encoder, "<tok>", 3, "a");
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_THAT(*ids, ElementsAre(514, 515, 516));
  const torch::Tensor weight = model.text_encoder->token_embedding()->weight;
  ASSERT_EQ(weight.size(0), 517);
  EXPECT_TRUE(torch::equal(weight.slice(0, 0, 514), old));
  for (int64_t id : *ids) EXPECT_TRUE(torch::equal(weight[id], old[initializer]));
  EXPECT_THAT(model.tokenizer->Encode("<tok>"), ElementsAre(512, 514, 515, 516, 513));

  auto mean = AddPlaceholderToken(*model.tokenizer, model.text_encoder, "<m>", 1, "");
  ASSERT_TRUE(mean.ok()) << mean.status();
  EXPECT_TRUE(torch::allclose(weight[mean->at(0)], weight.slice(0, 0, 517).mean(0)));
}

TEST(TextualInversionTest, InitializerMustBeOneToken) {
  TempDir dir;
  models::DiffusersModel model = TinyTextModel(dir.path(), 1, /*sdxl=*/false);
  // The byte-level vocabulary has no merges: "ab" is the two tokens a, b</w>.
  auto ids = AddPlaceholderToken(*model.tokenizer, model.text_encoder, "<tok>", 1, "ab");
  ASSERT_FALSE(ids.ok());
  EXPECT_THAT(ids.status().message(), HasSubstr("\"ab\" is 2 tokens"));
  EXPECT_EQ(model.tokenizer->vocab_size(), 514);
  EXPECT_FALSE(AddPlaceholderToken(*model.tokenizer, model.text_encoder, "<tok>", 0, "a").ok());
}

class RoundTripTest : public ::testing::TestWithParam<int64_t> {};

TEST_P(RoundTripTest, SdSaveLoadGivesIdenticalOutputs) {
  const int64_t num_vectors = GetParam();
  TempDir dir;
  models::DiffusersModel trained = TinyTextModel(dir.path() / "a", 7, /*sdxl=*/false);
  auto ids = AddPlaceholderToken(trained, "<tok>", num_vectors, "a");
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_TRUE(ids->text_encoder_2.empty());
  Train(trained.text_encoder, ids->text_encoder);
  const auto path = dir.path() / "learned_embeds.safetensors";
  ASSERT_TRUE(SaveTextualInversion(path, trained, "<tok>").ok());
  auto tensors = models::LoadSafetensors(path);
  ASSERT_TRUE(tensors.ok());
  ASSERT_EQ(tensors->size(), 1u);
  EXPECT_EQ(tensors->at("<tok>").sizes(), (std::vector<int64_t>{num_vectors, kWidth}));

  models::DiffusersModel fresh = TinyTextModel(dir.path() / "b", 7, /*sdxl=*/false);
  auto loaded = LoadTextualInversion(path, fresh);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->text_encoder, ids->text_encoder);
  EXPECT_EQ(fresh.tokenizer->EncodePadded(kPrompt), trained.tokenizer->EncodePadded(kPrompt));
  ExpectEqualOutputs(Encode(fresh, kPrompt), Encode(trained, kPrompt));
  // The token's vectors matter: other vectors give other outputs.
  {
    torch::NoGradGuard no_grad;
    fresh.text_encoder->token_embedding()->weight[loaded->text_encoder.back()].add_(1.0);
  }
  EXPECT_FALSE(torch::equal(Encode(fresh, kPrompt)[0], Encode(trained, kPrompt)[0]));
}

TEST_P(RoundTripTest, SdxlSaveLoadGivesIdenticalOutputs) {
  const int64_t num_vectors = GetParam();
  TempDir dir;
  models::DiffusersModel trained = TinyTextModel(dir.path() / "a", 8, /*sdxl=*/true);
  auto ids = AddPlaceholderToken(trained, "<tok>", num_vectors, "a");
  ASSERT_TRUE(ids.ok()) << ids.status();
  Train(trained.text_encoder, ids->text_encoder);
  Train(trained.text_encoder_2, ids->text_encoder_2);
  const auto path = dir.path() / "tok.safetensors";
  ASSERT_TRUE(SaveTextualInversion(path, trained, "<tok>").ok());
  auto tensors = models::LoadSafetensors(path);
  ASSERT_TRUE(tensors.ok());
  ASSERT_EQ(tensors->size(), 2u);
  EXPECT_EQ(tensors->at("clip_l").sizes(), (std::vector<int64_t>{num_vectors, kWidth}));
  EXPECT_EQ(tensors->at("clip_g").sizes(), (std::vector<int64_t>{num_vectors, kWidth2}));

  models::DiffusersModel fresh = TinyTextModel(dir.path() / "b", 8, /*sdxl=*/true);
  auto loaded = LoadTextualInversion(path, fresh, "<tok>");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->text_encoder_2, ids->text_encoder_2);
  ExpectEqualOutputs(Encode(fresh, kPrompt), Encode(trained, kPrompt));
}

INSTANTIATE_TEST_SUITE_P(Vectors, RoundTripTest, ::testing::Values(1, 3));

TEST(TextualInversionTest, A1111FileLoadsUnderItsFileName) {
  TempDir dir;
  models::DiffusersModel model = TinyTextModel(dir.path(), 2, /*sdxl=*/false);
  const torch::Tensor vectors = torch::randn({2, kWidth});
  const auto path = dir.path() / "charturner.safetensors";
  ASSERT_TRUE(models::SaveSafetensors(path, {{"string_to_param.*", vectors}}).ok());
  auto ids = LoadTextualInversion(path, model);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_THAT(model.tokenizer->EncodeWithoutSpecialTokens("charturner"), ElementsAre(514, 515));
  const torch::Tensor weight = model.text_encoder->token_embedding()->weight;
  EXPECT_TRUE(torch::equal(weight.slice(0, 514, 516), vectors));
  EXPECT_EQ(model.tokenizer->TokenId("charturner_1"), 515);
}

TEST(TextualInversionTest, WrongWidthIsAnErrorNamingFileAndToken) {
  TempDir dir;
  models::DiffusersModel model = TinyTextModel(dir.path(), 3, /*sdxl=*/false);
  const auto path = dir.path() / "narrow.safetensors";
  ASSERT_TRUE(models::SaveSafetensors(path, {{"<tok>", torch::zeros({1, 16})}}).ok());
  auto ids = LoadTextualInversion(path, model);
  ASSERT_FALSE(ids.ok());
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ids.status().message(), HasSubstr(path.string()));
  EXPECT_THAT(ids.status().message(), HasSubstr("\"<tok>\" has vectors of size 16"));
  EXPECT_THAT(ids.status().message(), HasSubstr("size 32"));
  EXPECT_EQ(model.tokenizer->vocab_size(), 514);
  EXPECT_EQ(model.text_encoder->token_embedding()->weight.size(0), 514);
}

TEST(TextualInversionTest, DuplicateTokenIsAnErrorAndChangesNothing) {
  TempDir dir;
  models::DiffusersModel model = TinyTextModel(dir.path(), 4, /*sdxl=*/false);
  const auto path = dir.path() / "learned_embeds.safetensors";
  ASSERT_TRUE(WriteEmbeddingFile(path, {"<tok>", torch::randn({2, kWidth}), {}}).ok());
  ASSERT_TRUE(LoadTextualInversion(path, model).ok());
  const torch::Tensor before = model.text_encoder->token_embedding()->weight.detach().clone();
  auto again = LoadTextualInversion(path, model);
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.status().message(), HasSubstr(path.string()));
  EXPECT_THAT(again.status().message(), HasSubstr("\"<tok>\""));
  EXPECT_EQ(model.tokenizer->vocab_size(), 516);
  EXPECT_TRUE(torch::equal(model.text_encoder->token_embedding()->weight, before));

  // A single-vector "<tok>_2" would join "<tok>"'s vectors; "<x>" would expand into "<x>_1".
  auto joins = LoadTextualInversion(path, model, "<tok>_2");
  ASSERT_FALSE(joins.ok());
  EXPECT_THAT(joins.status().message(), HasSubstr("multi-vector token \"<tok>\""));
  ASSERT_TRUE(model.tokenizer->AddTokens({"<x>_2"}).ok());
  auto expands = LoadTextualInversion(path, model, "<x>");
  ASSERT_FALSE(expands.ok());
  EXPECT_THAT(expands.status().message(), HasSubstr("\"<x>_2\" exists"));
}

TEST(TextualInversionTest, EmptyFileIsAnErrorNamingIt) {
  TempDir dir;
  models::DiffusersModel model = TinyTextModel(dir.path(), 5, /*sdxl=*/false);
  const auto path = dir.path() / "empty.safetensors";
  ASSERT_TRUE(models::SaveSafetensors(path, {}).ok());
  auto ids = LoadTextualInversion(path, model);
  ASSERT_FALSE(ids.ok());
  EXPECT_THAT(ids.status().message(), HasSubstr(path.string()));
  EXPECT_THAT(ids.status().message(), HasSubstr("no tensors"));
}

TEST(TextualInversionTest, LayoutMustMatchTheModel) {
  TempDir dir;
  models::DiffusersModel sd = TinyTextModel(dir.path() / "sd", 6, /*sdxl=*/false);
  models::DiffusersModel sdxl = TinyTextModel(dir.path() / "sdxl", 6, /*sdxl=*/true);
  const auto sd_file = dir.path() / "sd.safetensors";
  const auto sdxl_file = dir.path() / "sdxl.safetensors";
  ASSERT_TRUE(WriteEmbeddingFile(sd_file, {"<tok>", torch::randn({1, kWidth}), {}}).ok());
  ASSERT_TRUE(WriteEmbeddingFile(
                  sdxl_file, {"<tok>", torch::randn({1, kWidth}), torch::randn({1, kWidth2})})
                  .ok());
  auto sd_into_sdxl = LoadTextualInversion(sd_file, sdxl);
  ASSERT_FALSE(sd_into_sdxl.ok());
  EXPECT_THAT(sd_into_sdxl.status().message(), HasSubstr("clip_l and clip_g"));
  auto sdxl_into_sd = LoadTextualInversion(sdxl_file, sd);
  ASSERT_FALSE(sdxl_into_sd.ok());
  EXPECT_THAT(sdxl_into_sd.status().message(), HasSubstr("SDXL embedding"));
}

TEST(TextualInversionTest, SdxlAddsToBothEncodersOrNeither) {
  TempDir dir;
  models::DiffusersModel model = TinyTextModel(dir.path(), 9, /*sdxl=*/true);
  ASSERT_TRUE(model.tokenizer_2->AddTokens({"<tok>"}).ok());
  TextualInversionEmbedding embedding{"<tok>", torch::randn({1, kWidth}),
                                      torch::randn({1, kWidth2})};
  auto ids = AddEmbedding(model, embedding);
  ASSERT_FALSE(ids.ok());
  EXPECT_THAT(ids.status().message(), HasSubstr("text_encoder_2"));
  EXPECT_EQ(model.tokenizer->vocab_size(), 514) << "text_encoder's tokenizer is untouched";
  EXPECT_EQ(model.text_encoder->token_embedding()->weight.size(0), 514);

  // Widths are checked per encoder: clip_g's vectors for clip_l is an error.
  models::DiffusersModel other = TinyTextModel(dir.path() / "other", 9, /*sdxl=*/true);
  std::swap(embedding.vectors, embedding.vectors_2);
  auto swapped = AddEmbedding(other, embedding);
  ASSERT_FALSE(swapped.ok());
  EXPECT_THAT(swapped.status().message(), HasSubstr("size 48 but text_encoder's"));
}

TEST(TextualInversionTest, ExtractingAnUnknownTokenIsNotFound) {
  TempDir dir;
  models::DiffusersModel model = TinyTextModel(dir.path(), 10, /*sdxl=*/false);
  auto embedding = ExtractEmbedding(model, "<nope>");
  ASSERT_FALSE(embedding.ok());
  EXPECT_EQ(embedding.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(embedding.status().message(), HasSubstr("\"<nope>\""));
}

}  // namespace
}  // namespace easel::embeddings
