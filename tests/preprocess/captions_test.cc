#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "preprocess/captions/caption_assignment.h"
#include "preprocess/captions/caption_csv.h"
#include "preprocess/captions/token_substitution.h"

namespace easel::preprocess {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

auto Row(int row, const std::string& image_file, const std::string& caption) {
  return AllOf(Field(&CaptionRow::row, row), Field(&CaptionRow::image_file, image_file),
               Field(&CaptionRow::caption, caption));
}

std::string Message(const absl::Status& status) { return std::string(status.message()); }

TEST(CaptionCsvTest, ColumnsInAnyOrderWithExtraColumns) {
  const absl::StatusOr<std::vector<CaptionRow>> rows =
      ParseCaptionCsv("caption,notes,image_file\na dog,x,b.jpg\na cat,y,a.jpg\n");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_THAT(*rows, ElementsAre(Row(2, "b.jpg", "a dog"), Row(3, "a.jpg", "a cat")));
}

TEST(CaptionCsvTest, QuotedFieldsBomAndCrlf) {
  const std::string text =
      "\xEF\xBB\xBF"
      "image_file,caption\r\n"
      "\"a.jpg\",\"TOK, smiling, in a \"\"red\"\" hat\"\r\n"
      "b.jpg,\"two\nlines\"\r\n"
      "\r\n"
      "  c.jpg  ,  padded  \r\n";
  const absl::StatusOr<std::vector<CaptionRow>> rows = ParseCaptionCsv(text);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_THAT(*rows, ElementsAre(Row(2, "a.jpg", "TOK, smiling, in a \"red\" hat"),
                                 Row(3, "b.jpg", "two\nlines"), Row(5, "c.jpg", "padded")));
}

TEST(CaptionCsvTest, MissingHeaderColumnIsNamed) {
  const absl::StatusOr<std::vector<CaptionRow>> rows = ParseCaptionCsv("file,caption\na.jpg,x\n");
  EXPECT_TRUE(absl::IsInvalidArgument(rows.status()));
  EXPECT_THAT(Message(rows.status()), HasSubstr("image_file"));
}

TEST(CaptionCsvTest, EmptyCaptionsListEveryOffendingRow) {
  const absl::StatusOr<std::vector<CaptionRow>> rows =
      ParseCaptionCsv("image_file,caption\na.jpg,\nb.jpg,fine\nc.jpg,\"  \"\nd.jpg\n");
  EXPECT_TRUE(absl::IsInvalidArgument(rows.status()));
  EXPECT_THAT(Message(rows.status()),
              AllOf(HasSubstr("row 2"), HasSubstr("a.jpg"), HasSubstr("row 4"),
                    HasSubstr("c.jpg"), HasSubstr("row 5"), ::testing::Not(HasSubstr("row 3"))));
}

TEST(CaptionCsvTest, UnclosedQuoteIsAnError) {
  const absl::StatusOr<std::vector<CaptionRow>> rows =
      ParseCaptionCsv("image_file,caption\na.jpg,\"never closed\n");
  EXPECT_TRUE(absl::IsInvalidArgument(rows.status()));
  EXPECT_THAT(Message(rows.status()), HasSubstr("row 2"));
}

TEST(CaptionAssignmentTest, MatchesByFileNameNotPosition) {
  const absl::StatusOr<std::map<std::string, std::string>> captions = AssignCaptions(
      {{.row = 2, .image_file = "b.jpg", .caption = "bee"},
       {.row = 3, .image_file = "a.jpg", .caption = "ay"},
       {.row = 4, .image_file = "photos/c.png", .caption = "see"}},
      {"photos/a.jpg", "photos/b.jpg", "photos/c.png", "photos/d.png"});
  ASSERT_TRUE(captions.ok()) << captions.status();
  EXPECT_THAT(*captions, UnorderedElementsAre(Pair("photos/a.jpg", "ay"), Pair("photos/b.jpg", "bee"),
                                              Pair("photos/c.png", "see")));
}

TEST(CaptionAssignmentTest, RowNamingNoImageIsAnErrorNamingTheRow) {
  const absl::StatusOr<std::map<std::string, std::string>> captions =
      AssignCaptions({{.row = 2, .image_file = "a.jpg", .caption = "ok"},
                      {.row = 3, .image_file = "missing.jpg", .caption = "gone"}},
                     {"a.jpg"});
  EXPECT_TRUE(absl::IsInvalidArgument(captions.status()));
  EXPECT_THAT(Message(captions.status()), AllOf(HasSubstr("row 3"), HasSubstr("missing.jpg")));
}

TEST(CaptionAssignmentTest, AmbiguousAndDuplicateRowsAreErrors) {
  const absl::StatusOr<std::map<std::string, std::string>> ambiguous =
      AssignCaptions({{.row = 2, .image_file = "a.jpg", .caption = "x"}}, {"x/a.jpg", "y/a.jpg"});
  EXPECT_THAT(Message(ambiguous.status()), AllOf(HasSubstr("row 2"), HasSubstr("x/a.jpg")));
  const absl::StatusOr<std::map<std::string, std::string>> settled =
      AssignCaptions({{.row = 2, .image_file = "y/a.jpg", .caption = "x"}}, {"x/a.jpg", "y/a.jpg"});
  ASSERT_TRUE(settled.ok()) << settled.status();
  EXPECT_THAT(*settled, ElementsAre(Pair("y/a.jpg", "x")));
  const absl::StatusOr<std::map<std::string, std::string>> duplicate =
      AssignCaptions({{.row = 2, .image_file = "a.jpg", .caption = "x"},
                      {.row = 3, .image_file = "a.jpg", .caption = "y"}},
                     {"a.jpg"});
  EXPECT_THAT(Message(duplicate.status()), AllOf(HasSubstr("row 3"), HasSubstr("row 2")));
}

TEST(TokenSubstitutionTest, ReplacesWholeWordOnly) {
  EXPECT_EQ(SubstituteTokenPlaceholder("a photo of TOK", "sks"), "a photo of sks");
  EXPECT_EQ(SubstituteTokenPlaceholder("TOK, TOK and (TOK).", "sks"), "sks, sks and (sks).");
  EXPECT_EQ(SubstituteTokenPlaceholder("TOKEN TOKTOK MY_TOK TOK2 tok", "sks"),
            "TOKEN TOKTOK MY_TOK TOK2 tok");
  EXPECT_EQ(SubstituteTokenPlaceholder("TOKé TOK", "sks"), "TOKé sks");
  EXPECT_EQ(SubstituteTokenPlaceholder("TOK", "TOK TOK"), "TOK TOK");
  EXPECT_EQ(SubstituteTokenPlaceholder("", "sks"), "");
}

}  // namespace
}  // namespace easel::preprocess
