#include "trainer/tokenizer/clip_tokenizer.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/remove_tree.h"

namespace easel::tokenizer {
namespace {

using ::testing::ElementsAre;

class ByteLevelTokenizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                     ("clip_tokenizer_test_" + std::to_string(::getpid())));
    ASSERT_TRUE(WriteByteLevelTokenizer(*dir_).ok());
  }
  static void TearDownTestSuite() {
    easel::RemoveTree(*dir_).IgnoreError();
    delete dir_;
  }
  static std::filesystem::path* dir_;
};
std::filesystem::path* ByteLevelTokenizerTest::dir_ = nullptr;

TEST_F(ByteLevelTokenizerTest, LoadsWithSpecialIds) {
  auto tokenizer = CLIPTokenizer::FromDirectory(*dir_);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ(tokenizer->vocab_size(), 514);
  EXPECT_EQ(tokenizer->bos_id(), 512);
  EXPECT_EQ(tokenizer->eos_id(), 513);
  EXPECT_EQ(tokenizer->pad_id(), 513);
  EXPECT_EQ(tokenizer->model_max_length(), 77);
}

TEST_F(ByteLevelTokenizerTest, WithPadTokenChangesOnlyThePadding) {
  auto tokenizer = CLIPTokenizer::FromDirectory(*dir_);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  auto bang = tokenizer->WithPadToken("!");
  ASSERT_TRUE(bang.ok()) << bang.status();
  EXPECT_EQ(bang->pad_id(), bang->TokenId("!"));
  EXPECT_NE(bang->pad_id(), tokenizer->pad_id());
  EXPECT_EQ(bang->EncodePadded("a cat", 77).back(), bang->pad_id());
  EXPECT_EQ(bang->Encode("a cat"), tokenizer->Encode("a cat"));
  auto missing = tokenizer->WithPadToken("<no such token>");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ByteLevelTokenizerTest, EncodesBytesWithEndOfWordMarker) {
  auto tokenizer = CLIPTokenizer::FromDirectory(*dir_);
  ASSERT_TRUE(tokenizer.ok());
  const int64_t t = tokenizer->TokenId("t"), o = tokenizer->TokenId("o");
  const int64_t k_end = tokenizer->TokenId("k</w>");
  ASSERT_GE(t, 0);
  ASSERT_GE(k_end, 256);
  auto ids = tokenizer->Encode("TOK");
  EXPECT_THAT(ids, ElementsAre(512, t, o, k_end, 513));
  EXPECT_EQ(tokenizer->Encode("tok"), ids);
  EXPECT_EQ(tokenizer->Encode("  TOK \n"), ids);
  EXPECT_EQ(tokenizer->Encode("TOK"), ids);  // cached path gives the same ids
  EXPECT_THAT(tokenizer->Encode(""), ElementsAre(512, 513));
}

TEST_F(ByteLevelTokenizerTest, PadsAndTruncatesKeepingEos) {
  auto tokenizer = CLIPTokenizer::FromDirectory(*dir_);
  ASSERT_TRUE(tokenizer.ok());
  auto padded = tokenizer->EncodePadded("ab", 8);
  EXPECT_THAT(padded, ElementsAre(512, tokenizer->TokenId("a"), tokenizer->TokenId("b</w>"), 513,
                                  513, 513, 513, 513));
  auto truncated = tokenizer->EncodePadded(std::string(200, 'x'), 77);
  ASSERT_EQ(truncated.size(), 77u);
  EXPECT_EQ(truncated.front(), 512);
  EXPECT_EQ(truncated.back(), 513);
  EXPECT_EQ(truncated[75], tokenizer->TokenId("x"));
}

TEST_F(ByteLevelTokenizerTest, SplitsLikeClipPattern) {
  auto tokenizer = CLIPTokenizer::FromDirectory(*dir_);
  ASSERT_TRUE(tokenizer.ok());
  auto id = [&](const char* token) { return tokenizer->TokenId(token); };
  // "it's" -> "it" + "'s"; digits are single tokens; punctuation runs stay together.
  EXPECT_THAT(tokenizer->EncodeWithoutSpecialTokens("it's 42!?"),
              ElementsAre(id("i"), id("t</w>"), id("'"), id("s</w>"), id("4</w>"), id("2</w>"),
                          id("!"), id("?</w>")));
  EXPECT_THAT(tokenizer->EncodeWithoutSpecialTokens("a<|endoftext|>"),
              ElementsAre(id("a</w>"), 513));
}

TEST(CLIPTokenizerTest, MergesApplyByRank) {
  auto base_dir = std::filesystem::temp_directory_path() /
                  ("clip_tokenizer_merges_" + std::to_string(::getpid()));
  ASSERT_TRUE(WriteByteLevelTokenizer(base_dir).ok());
  std::ifstream in(base_dir / "vocab.json");
  nlohmann::json vocab_json = nlohmann::json::parse(in);
  easel::RemoveTree(base_dir).IgnoreError();
  std::unordered_map<std::string, int64_t> vocab;
  for (const auto& [token, id] : vocab_json.items()) vocab[token] = id.get<int64_t>();
  vocab["lo"] = 514;
  vocab["low</w>"] = 515;
  auto tokenizer = CLIPTokenizer::FromVocabAndMerges(vocab, {"l o", "lo w</w>"});
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  // "low": l o w</w> -> lo w</w> -> low</w>; "lo": no merge for "l o</w>".
  EXPECT_THAT(tokenizer->Encode("low lo"),
              ElementsAre(512, 515, vocab["l"], vocab["o</w>"], 513));
}

TEST(CLIPTokenizerTest, MissingFilesAreNotFound) {
  auto tokenizer = CLIPTokenizer::FromDirectory("/nonexistent/tokenizer");
  EXPECT_FALSE(tokenizer.ok());
}

TEST(CLIPTokenizerTest, ReproducesReferenceTokenizerGolden) {
  const char* shared = std::getenv("EASEL_SHARED_DIR");
  ASSERT_NE(shared, nullptr);
  const std::filesystem::path clip_dir = std::filesystem::path(shared) / "data" / "clip";
  auto tokenizer = CLIPTokenizer::FromMergesGz(clip_dir / "bpe_simple_vocab_16e6.txt.gz");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ(tokenizer->vocab_size(), 49408);
  EXPECT_EQ(tokenizer->bos_id(), 49406);
  EXPECT_EQ(tokenizer->eos_id(), 49407);
  std::ifstream golden(clip_dir / "tokenizer_golden.jsonl");
  ASSERT_TRUE(golden);
  std::string line;
  int checked = 0;
  while (std::getline(golden, line)) {
    if (line.empty()) continue;
    auto row = nlohmann::json::parse(line);
    const std::string text = row["text"].get<std::string>();
    EXPECT_EQ(tokenizer->Encode(text), row["ids"].get<std::vector<int64_t>>()) << text;
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

}  // namespace
}  // namespace easel::tokenizer
