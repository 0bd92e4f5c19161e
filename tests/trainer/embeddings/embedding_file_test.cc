#include "trainer/embeddings/embedding_file.h"

#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/safetensors.h"
#include "tests/trainer/embeddings/tiny_text_models.h"
#include "trainer/models/weights.h"

namespace easel::embeddings {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using testing::TempDir;

std::vector<std::string> TensorNames(const std::filesystem::path& path) {
  auto tensors = models::LoadSafetensors(path);
  EXPECT_TRUE(tensors.ok()) << tensors.status();
  std::vector<std::string> names;
  for (const auto& [name, tensor] : *tensors) names.push_back(name);
  return names;
}

TEST(EmbeddingFileTest, DiffusersLayoutRoundTrips) {
  TempDir dir;
  const auto path = dir.path() / "learned_embeds.safetensors";
  TextualInversionEmbedding embedding{"<cat-toy>", torch::randn({3, 32}), {}};
  ASSERT_TRUE(WriteEmbeddingFile(path, embedding).ok());
  // diffusers' save_progress: {placeholder_token: [n, dim]}, metadata {"format": "pt"}.
  EXPECT_THAT(TensorNames(path), UnorderedElementsAre("<cat-toy>"));
  auto file = safetensors::File::Open(path);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ((*file)->metadata().at("format"), "pt");

  auto read = ReadEmbeddingFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->token, "<cat-toy>");
  EXPECT_FALSE(read->is_sdxl());
  EXPECT_TRUE(torch::equal(read->vectors, embedding.vectors));
  auto renamed = ReadEmbeddingFile(path, "<other>");
  ASSERT_TRUE(renamed.ok());
  EXPECT_EQ(renamed->token, "<other>");
}

TEST(EmbeddingFileTest, SdxlLayoutHoldsClipLAndClipG) {
  TempDir dir;
  const auto path = dir.path() / "web_y2k.safetensors";
  TextualInversionEmbedding embedding{"<s0>", torch::randn({2, 32}), torch::randn({2, 48})};
  ASSERT_TRUE(WriteEmbeddingFile(path, embedding).ok());
  EXPECT_THAT(TensorNames(path), UnorderedElementsAre("clip_l", "clip_g"));
  auto read = ReadEmbeddingFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->token, "web_y2k") << "no token in the file: the file's stem, as A1111";
  ASSERT_TRUE(read->is_sdxl());
  EXPECT_TRUE(torch::equal(read->vectors, embedding.vectors));
  EXPECT_TRUE(torch::equal(read->vectors_2, embedding.vectors_2));
}

TEST(EmbeddingFileTest, ReadsA1111AndKohyaLayoutsAndSingleVectors) {
  TempDir dir;
  const torch::Tensor vectors = torch::randn({2, 32});
  ASSERT_TRUE(models::SaveSafetensors(dir.path() / "charturner.safetensors",
                                      {{"emb_params", vectors.to(torch::kFloat16)}})
                  .ok());
  auto kohya = ReadEmbeddingFile(dir.path() / "charturner.safetensors");
  ASSERT_TRUE(kohya.ok()) << kohya.status();
  EXPECT_EQ(kohya->token, "charturner");
  EXPECT_EQ(kohya->vectors.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(kohya->vectors, vectors.to(torch::kFloat16).to(torch::kFloat32)));

  ASSERT_TRUE(models::SaveSafetensors(dir.path() / "a1111.safetensors",
                                      {{"string_to_param.*", vectors}})
                  .ok());
  auto a1111 = ReadEmbeddingFile(dir.path() / "a1111.safetensors", "style-tok");
  ASSERT_TRUE(a1111.ok()) << a1111.status();
  EXPECT_EQ(a1111->token, "style-tok");
  EXPECT_TRUE(torch::equal(a1111->vectors, vectors));

  ASSERT_TRUE(
      models::SaveSafetensors(dir.path() / "one.safetensors", {{"<one>", vectors[0]}}).ok());
  auto one = ReadEmbeddingFile(dir.path() / "one.safetensors");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->vectors.sizes(), (std::vector<int64_t>{1, 32})) << "[dim] is one vector";
}

TEST(EmbeddingFileTest, UnreadableLayoutsAreErrorsNamingTheFile) {
  TempDir dir;
  auto expect_error = [&](const std::string& name,
                          const std::map<std::string, torch::Tensor>& tensors,
                          const std::string& mentions) {
    const auto path = dir.path() / name;
    ASSERT_TRUE(models::SaveSafetensors(path, tensors).ok());
    auto read = ReadEmbeddingFile(path);
    ASSERT_FALSE(read.ok()) << name;
    EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(read.status().message(), HasSubstr(path.string()));
    EXPECT_THAT(std::string(read.status().message()), HasSubstr(mentions));
  };
  expect_error("empty.safetensors", {}, "holds no tensors");
  expect_error("two.safetensors", {{"<a>", torch::zeros({1, 4})}, {"<b>", torch::zeros({1, 4})}},
               "\"<a>\", \"<b>\"");
  expect_error("half_sdxl.safetensors", {{"clip_l", torch::zeros({1, 4})}}, "\"clip_g\"");
  expect_error("mismatch.safetensors",
               {{"clip_l", torch::zeros({1, 4})}, {"clip_g", torch::zeros({2, 4})}}, "\"clip_g\" has 2");
  expect_error("cube.safetensors", {{"<c>", torch::zeros({1, 2, 4})}}, "\"<c>\" has shape [1, 2, 4]");
  expect_error("ints.safetensors", {{"<i>", torch::zeros({1, 4}, torch::kLong)}}, "\"<i>\"");

  auto missing = ReadEmbeddingFile(dir.path() / "absent.safetensors");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("absent.safetensors"));
}

TEST(EmbeddingFileTest, WriteRejectsMismatchedVectors) {
  TempDir dir;
  const auto path = dir.path() / "bad.safetensors";
  absl::Status rows = WriteEmbeddingFile(
      path, TextualInversionEmbedding{"<t>", torch::zeros({2, 32}), torch::zeros({3, 48})});
  ASSERT_FALSE(rows.ok());
  EXPECT_THAT(rows.message(), HasSubstr("\"<t>\""));
  EXPECT_FALSE(WriteEmbeddingFile(path, TextualInversionEmbedding{"", torch::zeros({1, 4}), {}}).ok());
  EXPECT_FALSE(WriteEmbeddingFile(path, TextualInversionEmbedding{"<t>", {}, {}}).ok());
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace easel::embeddings
