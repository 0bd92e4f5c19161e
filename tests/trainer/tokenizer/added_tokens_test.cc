#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/remove_tree.h"
#include "trainer/tokenizer/clip_tokenizer.h"

namespace easel::tokenizer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The byte-level vocabulary: 514 ids, BOS 512, EOS 513, no merges (so "ab" is a, b</w>).
class AddedTokensTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("added_tokens_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    easel::RemoveTree(dir_).IgnoreError();
    ASSERT_TRUE(WriteByteLevelTokenizer(dir_).ok());
    auto tokenizer = CLIPTokenizer::FromDirectory(dir_);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    tokenizer_ = std::make_unique<CLIPTokenizer>(*std::move(tokenizer));
  }
  void TearDown() override { easel::RemoveTree(dir_).IgnoreError(); }

  int64_t Id(const char* token) const { return tokenizer_->TokenId(token); }
  void WriteJson(const char* name, const nlohmann::json& json) const {
    std::ofstream(dir_ / name) << json.dump();
  }

  std::filesystem::path dir_;
  std::unique_ptr<CLIPTokenizer> tokenizer_;
};

TEST_F(AddedTokensTest, AddedTokensTakeTheNextIdsAndEncodeWhole) {
  ASSERT_TRUE(tokenizer_->AddTokens({"<cat-toy>", "zz"}).ok());
  EXPECT_EQ(tokenizer_->base_vocab_size(), 514);
  EXPECT_EQ(tokenizer_->vocab_size(), 516);
  EXPECT_EQ(Id("<cat-toy>"), 514);
  EXPECT_EQ(Id("zz"), 515);
  EXPECT_THAT(tokenizer_->added_tokens(), ElementsAre("<cat-toy>", "zz"));
  // Without the added token, "<cat-toy>" would be the pieces "<", "cat", "-", "toy", ">".
  EXPECT_THAT(tokenizer_->Encode("a <cat-toy> b"),
              ElementsAre(512, Id("a</w>"), 514, Id("b</w>"), 513));
  // Matched inside a word too (transformers' added tokens are not single_word); the text on
  // either side is tokenized on its own.
  EXPECT_THAT(tokenizer_->EncodeWithoutSpecialTokens("xzzy"),
              ElementsAre(Id("x</w>"), 515, Id("y</w>")));
}

TEST_F(AddedTokensTest, MatchingFollowsTheLowerCasing) {
  ASSERT_TRUE(tokenizer_->AddTokens({"<Cat-Toy>"}).ok());
  const std::vector<int64_t> expected = {512, 514, 513};
  EXPECT_EQ(tokenizer_->Encode("<cat-toy>"), expected);
  EXPECT_EQ(tokenizer_->Encode("<CAT-TOY>"), expected);
  EXPECT_EQ(tokenizer_->Encode("  <Cat-Toy>\n"), expected);
  EXPECT_EQ(Id("<cat-toy>"), 514);
  EXPECT_EQ(Id("<Cat-Toy>"), 514);
}

TEST_F(AddedTokensTest, LongestMatchWinsAndSpecialTokensStayWhole) {
  ASSERT_TRUE(tokenizer_->AddTokens({"end", "ends"}).ok());
  EXPECT_THAT(tokenizer_->EncodeWithoutSpecialTokens("ends end"), ElementsAre(515, 514));
  // "end" inside <|endoftext|> is not an added token match: the special token keeps its id.
  EXPECT_THAT(tokenizer_->EncodeWithoutSpecialTokens("<|endoftext|>end"), ElementsAre(513, 514));
}

TEST_F(AddedTokensTest, EncodePaddedKeepsAddedTokens) {
  ASSERT_TRUE(tokenizer_->AddTokens({"<tok>"}).ok());
  EXPECT_THAT(tokenizer_->EncodePadded("<tok> a", 6),
              ElementsAre(512, 514, Id("a</w>"), 513, 513, 513));
  // Truncation keeps EOS last; the added token before the cut survives.
  auto truncated = tokenizer_->EncodePadded("<tok> " + std::string(100, 'x'), 10);
  ASSERT_EQ(truncated.size(), 10u);
  EXPECT_EQ(truncated[1], 514);
  EXPECT_EQ(truncated[9], 513);
}

TEST_F(AddedTokensTest, MultiVectorTokenExpandsToAllItsTokens) {
  // diffusers' naming: a 3-vector token <t> is <t>, <t>_1, <t>_2.
  ASSERT_TRUE(tokenizer_->AddTokens({"<t>", "<t>_1", "<t>_2"}).ok());
  EXPECT_THAT(tokenizer_->AddedTokenIds("<t>"), ElementsAre(514, 515, 516));
  EXPECT_THAT(tokenizer_->AddedTokenIds("<t>_2"), ElementsAre(516));
  EXPECT_TRUE(tokenizer_->AddedTokenIds("<u>").empty());
  EXPECT_THAT(tokenizer_->Encode("a <t>"), ElementsAre(512, Id("a</w>"), 514, 515, 516, 513));
  // A member named on its own is itself only (the longest match wins over "<t>").
  EXPECT_THAT(tokenizer_->EncodeWithoutSpecialTokens("<t>_2"), ElementsAre(516));
}

TEST_F(AddedTokensTest, ExistingTokensAreErrorsNamingThem) {
  ASSERT_TRUE(tokenizer_->AddTokens({"<tok>"}).ok());
  absl::Status again = tokenizer_->AddTokens({"<new>", "<TOK>"});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(again.message(), HasSubstr("\"<TOK>\""));
  EXPECT_THAT(again.message(), HasSubstr("\"<tok>\" (id 514)"));
  EXPECT_EQ(Id("<new>"), -1) << "a failed AddTokens adds nothing";
  EXPECT_EQ(tokenizer_->vocab_size(), 515);

  absl::Status vocabulary = tokenizer_->AddTokens({"<|endoftext|>"});
  ASSERT_FALSE(vocabulary.ok());
  EXPECT_THAT(vocabulary.message(), HasSubstr("\"<|endoftext|>\""));
  EXPECT_THAT(vocabulary.message(), HasSubstr("vocabulary"));
  EXPECT_FALSE(tokenizer_->AddTokens({"k</w>"}).ok());
  EXPECT_FALSE(tokenizer_->AddTokens({"<|EndOfText|>"}).ok());

  absl::Status twice = tokenizer_->AddTokens({"<a>", "<A>"});
  ASSERT_FALSE(twice.ok());
  EXPECT_THAT(twice.message(), HasSubstr("\"<A>\""));
  EXPECT_THAT(twice.message(), HasSubstr("twice"));

  EXPECT_FALSE(tokenizer_->AddTokens({" \n"}).ok());
  EXPECT_EQ(tokenizer_->vocab_size(), 515);
}

TEST_F(AddedTokensTest, DirectoryWithAddedTokenFilesLoadsThem) {
  WriteJson("added_tokens.json", {{"<tok>", 514}});
  nlohmann::json config = {{"model_max_length", 77},
                           {"pad_token", "<|endoftext|>"},
                           {"added_tokens_decoder",
                            {{"512", {{"content", "<|startoftext|>"}, {"special", true}}},
                             {"513", {{"content", "<|endoftext|>"}, {"special", true}}},
                             {"514", {{"content", "<tok>"}, {"special", false}}},
                             {"515", {{"content", "<tok>_1"}, {"special", false}}}}}};
  WriteJson("tokenizer_config.json", config);
  auto tokenizer = CLIPTokenizer::FromDirectory(dir_);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ(tokenizer->vocab_size(), 516);
  EXPECT_EQ(tokenizer->bos_id(), 512);
  EXPECT_THAT(tokenizer->added_tokens(), ElementsAre("<tok>", "<tok>_1"));
  EXPECT_THAT(tokenizer->Encode("<tok>"), ElementsAre(512, 514, 515, 513));
}

TEST_F(AddedTokensTest, SaveAddedTokensRoundTrips) {
  ASSERT_TRUE(tokenizer_->AddTokens({"<s0>", "<s1>"}).ok());
  ASSERT_TRUE(tokenizer_->SaveAddedTokens(dir_).ok());
  std::ifstream added_file(dir_ / "added_tokens.json");
  nlohmann::json added = nlohmann::json::parse(added_file);
  EXPECT_EQ(added, (nlohmann::json{{"<s0>", 514}, {"<s1>", 515}}));
  auto reloaded = CLIPTokenizer::FromDirectory(dir_);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ(reloaded->added_tokens(), tokenizer_->added_tokens());
  EXPECT_EQ(reloaded->Encode("<s0> <s1> x"), tokenizer_->Encode("<s0> <s1> x"));
  EXPECT_EQ(reloaded->model_max_length(), 77) << "tokenizer_config.json kept its fields";
}

TEST_F(AddedTokensTest, AddedTokenIdsWithAGapAreAnError) {
  WriteJson("added_tokens.json", {{"<tok>", 520}});
  auto tokenizer = CLIPTokenizer::FromDirectory(dir_);
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("\"<tok>\" has id 520"));
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("514"));
  EXPECT_THAT(tokenizer.status().message(), HasSubstr(dir_.string()));
}

TEST_F(AddedTokensTest, ConflictingAddedTokenFilesAreAnError) {
  WriteJson("added_tokens.json", {{"<tok>", 514}});
  nlohmann::json config = {{"added_tokens_decoder", {{"514", {{"content", "<other>"}}}}}};
  WriteJson("tokenizer_config.json", config);
  auto tokenizer = CLIPTokenizer::FromDirectory(dir_);
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("tokenizer_config.json"));
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("\"<other>\""));
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("\"<tok>\""));
}

TEST(AddedTokensClipVocabularyTest, AddedTokenSitsBetweenRealBpePieces) {
  const char* shared = std::getenv("EASEL_SHARED_DIR");
  ASSERT_NE(shared, nullptr);
  auto tokenizer = CLIPTokenizer::FromMergesGz(std::filesystem::path(shared) / "data" / "clip" /
                                               "bpe_simple_vocab_16e6.txt.gz");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const std::vector<int64_t> before = tokenizer->EncodeWithoutSpecialTokens("a photo of");
  const std::vector<int64_t> after = tokenizer->EncodeWithoutSpecialTokens("backpack, 4k");
  const std::vector<int64_t> unadded = tokenizer->EncodeWithoutSpecialTokens("<cat-toy>");
  ASSERT_GT(unadded.size(), 1u) << "without the added token BPE splits it";
  // "TOK" is no vocabulary entry ("tok" is), so diffusers would add it; so do we.
  ASSERT_TRUE(tokenizer->AddTokens({"<cat-toy>", "TOK"}).ok());
  EXPECT_EQ(tokenizer->TokenId("<cat-toy>"), 49408);
  EXPECT_EQ(tokenizer->vocab_size(), 49410);
  std::vector<int64_t> expected = {49406};
  expected.insert(expected.end(), before.begin(), before.end());
  expected.push_back(49408);
  expected.insert(expected.end(), after.begin(), after.end());
  expected.push_back(49407);
  EXPECT_EQ(tokenizer->Encode("a photo of <cat-toy> backpack, 4k"), expected);
  EXPECT_THAT(tokenizer->Encode("tok"), ElementsAre(49406, 49409, 49407));
}

}  // namespace
}  // namespace easel::tokenizer
