#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "preprocess/captions/caption_assignment.h"
#include "preprocess/captions/caption_csv.h"
#include "preprocess/captions/caption_plan.h"
#include "preprocess/captions/sidecar_captions.h"
#include "preprocess/captions/token_substitution.h"

namespace easel::preprocess {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;
using ::testing::StartsWith;
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
              AllOf(HasSubstr("row 2"), HasSubstr("a.jpg"), HasSubstr("row 4"), HasSubstr("c.jpg"),
                    HasSubstr("row 5"), ::testing::Not(HasSubstr("row 3"))));
}

TEST(CaptionCsvTest, TextThatIsNotUtf8IsAnErrorNamingTheFileAndRows) {
  const absl::StatusOr<std::vector<CaptionRow>> rows = ParseCaptionCsv(
      "image_file,caption\na.jpg,caf\xE9\nb.jpg,fine\nc.jpg,na\xEFve\n", "photos/captions.csv");
  EXPECT_TRUE(absl::IsInvalidArgument(rows.status()));
  EXPECT_THAT(Message(rows.status()), AllOf(StartsWith("photos/captions.csv: "),
                                            HasSubstr("row 2: text that is not valid UTF-8"),
                                            HasSubstr("row 4"), Not(HasSubstr("row 3"))));
}

TEST(CaptionCsvTest, UnclosedQuoteIsAnError) {
  const absl::StatusOr<std::vector<CaptionRow>> rows =
      ParseCaptionCsv("image_file,caption\na.jpg,\"never closed\n");
  EXPECT_TRUE(absl::IsInvalidArgument(rows.status()));
  EXPECT_THAT(Message(rows.status()), HasSubstr("row 2"));
}

TEST(CaptionAssignmentTest, MatchesByFileNameNotPosition) {
  const absl::StatusOr<std::map<std::string, CaptionRow>> captions =
      MatchCaptionRows({{.row = 2, .image_file = "b.jpg", .caption = "bee"},
                        {.row = 3, .image_file = "a.jpg", .caption = "ay"},
                        {.row = 4, .image_file = "photos/c.png", .caption = "see"}},
                       {"photos/a.jpg", "photos/b.jpg", "photos/c.png", "photos/d.png"});
  ASSERT_TRUE(captions.ok()) << captions.status();
  EXPECT_THAT(*captions, UnorderedElementsAre(Pair("photos/a.jpg", Row(3, "a.jpg", "ay")),
                                              Pair("photos/b.jpg", Row(2, "b.jpg", "bee")),
                                              Pair("photos/c.png", Row(4, "photos/c.png", "see"))));
}

TEST(CaptionAssignmentTest, RowNamingNoImageIsAnErrorNamingTheRow) {
  const absl::StatusOr<std::map<std::string, CaptionRow>> captions =
      MatchCaptionRows({{.row = 2, .image_file = "a.jpg", .caption = "ok"},
                        {.row = 3, .image_file = "missing.jpg", .caption = "gone"},
                        {.row = 4, .image_file = "gone.png", .caption = "gone too"}},
                       {"a.jpg"}, "captions.csv");
  EXPECT_TRUE(absl::IsInvalidArgument(captions.status()));
  EXPECT_THAT(Message(captions.status()),
              AllOf(StartsWith("captions.csv: "), HasSubstr("row 3"), HasSubstr("missing.jpg"),
                    HasSubstr("row 4"), HasSubstr("gone.png"), Not(HasSubstr("row 2"))));
}

TEST(CaptionAssignmentTest, AmbiguousAndDuplicateRowsAreErrors) {
  const auto ambiguous =
      MatchCaptionRows({{.row = 2, .image_file = "a.jpg", .caption = "x"}}, {"x/a.jpg", "y/a.jpg"});
  EXPECT_THAT(Message(ambiguous.status()), AllOf(HasSubstr("row 2"), HasSubstr("x/a.jpg")));
  const auto settled = MatchCaptionRows({{.row = 2, .image_file = "y/a.jpg", .caption = "x"}},
                                        {"x/a.jpg", "y/a.jpg"});
  ASSERT_TRUE(settled.ok()) << settled.status();
  EXPECT_THAT(*settled, ElementsAre(Pair("y/a.jpg", Row(2, "y/a.jpg", "x"))));
  const auto duplicate = MatchCaptionRows({{.row = 2, .image_file = "a.jpg", .caption = "x"},
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

TEST(TokenSubstitutionTest, ContainsWholeWord) {
  EXPECT_TRUE(ContainsWholeWord("a photo of sks, smiling", "sks"));
  EXPECT_TRUE(ContainsWholeWord("sksx and sks", "sks"));
  EXPECT_FALSE(ContainsWholeWord("a photo of sksx", "sks"));
  EXPECT_FALSE(ContainsWholeWord("a photo of SKS", "sks"));
  EXPECT_TRUE(ContainsWholeWord("x<sks>y", "<sks>"));
  EXPECT_FALSE(ContainsWholeWord("anything", ""));
}

constexpr char kPng[] = "\x89PNG\r\n\x1A\n(rest of a png)";
constexpr char kJpeg[] = "\xFF\xD8\xFF(rest of a jpeg)";

CaptionOptions Options(const std::string& caption_prefix = "a photo of TOK") {
  return CaptionOptions{.token_string = "sks", .caption_prefix = caption_prefix};
}

std::vector<std::string> Names(const std::vector<ArchiveFile>& files) {
  std::vector<std::string> names;
  for (const ArchiveFile& file : files) names.push_back(file.name);
  return names;
}

auto Planned(const std::string& caption, const std::string& source) {
  return AllOf(Field(&PlannedCaption::caption, caption), Field(&PlannedCaption::source, source));
}

TEST(CaptionPlanTest, CaptionTableMatchedByNameWhateverItsOrder) {
  std::vector<ArchiveFile> files = {{"photos/a.jpg", kJpeg},
                                    {"photos/b.png", kPng},
                                    {"photos/c.jpg", kJpeg},
                                    {"photos/d.png", kPng},
                                    {"captions.csv",
                                     "caption,image_file\nTOK by the sea,c.jpg\nTOK again,a.jpg\n"
                                     "portrait of TOK,photos/b.png\n"}};
  const absl::StatusOr<CaptionPlan> plan = PlanCaptions(files, Options());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(Names(files),
              ElementsAre("photos/a.jpg", "photos/b.png", "photos/c.jpg", "photos/d.png"));
  EXPECT_THAT(
      plan->by_file,
      UnorderedElementsAre(Pair("photos/a.jpg", Planned("sks again", "captions.csv row 3")),
                           Pair("photos/b.png", Planned("portrait of sks", "captions.csv row 4")),
                           Pair("photos/c.jpg", Planned("sks by the sea", "captions.csv row 2")),
                           Pair("photos/d.png", Planned("a photo of sks", "caption_prefix"))));
  EXPECT_THAT(plan->warnings, IsEmpty());
}

TEST(CaptionPlanTest, TableAtAnyDepthAndInAnyCaseIsNamedByItsPath) {
  std::vector<ArchiveFile> files = {{"x/Caption.CSV", "image_file,caption\na.jpg,TOK\n"},
                                    {"x/a.jpg", kJpeg}};
  const absl::StatusOr<CaptionPlan> plan = PlanCaptions(files, Options());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->by_file, ElementsAre(Pair("x/a.jpg", Planned("sks", "x/Caption.CSV row 2"))));
  std::vector<ArchiveFile> bad = {{"x/captions.csv", "image_file,caption\nz.jpg,TOK\n"},
                                  {"x/a.jpg", kJpeg}};
  EXPECT_THAT(Message(PlanCaptions(bad, Options()).status()),
              HasSubstr("x/captions.csv: row 2: image_file \"z.jpg\" names no image"));
}

TEST(CaptionPlanTest, TwoCaptionTablesAreAnErrorNamingBoth) {
  std::vector<ArchiveFile> files = {{"caption.csv", "image_file,caption\n"},
                                    {"photos/captions.csv", "image_file,caption\n"},
                                    {"a.jpg", kJpeg}};
  const absl::StatusOr<CaptionPlan> plan = PlanCaptions(files, Options());
  EXPECT_TRUE(absl::IsInvalidArgument(plan.status()));
  EXPECT_THAT(Message(plan.status()),
              AllOf(HasSubstr("caption.csv, photos/captions.csv"), HasSubstr("keep one")));
}

TEST(CaptionPlanTest, SidecarsCaptionTheImageOfTheirStemAndAreConsumed) {
  std::vector<ArchiveFile> files = {
      {"photos/a.jpg", kJpeg}, {"photos/a.txt", "\xEF\xBB\xBF  TOK on a bike\r\n"},
      {"photos/b.png", kPng},  {"photos/b.caption", "TOK in the rain"},
      {"photos/c.PNG", kPng},  {"photos/c.TXT", "close-up of TOK"},
      {"d.jpg", kJpeg},        {"photos/d.txt", "wrong directory: captions nothing"}};
  const absl::StatusOr<CaptionPlan> plan = PlanCaptions(files, Options());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(Names(files), ElementsAre("photos/a.jpg", "photos/b.png", "photos/c.PNG", "d.jpg"));
  EXPECT_THAT(
      plan->by_file,
      UnorderedElementsAre(Pair("photos/a.jpg", Planned("sks on a bike", "photos/a.txt")),
                           Pair("photos/b.png", Planned("sks in the rain", "photos/b.caption")),
                           Pair("photos/c.PNG", Planned("close-up of sks", "photos/c.TXT")),
                           Pair("d.jpg", Planned("a photo of sks", "caption_prefix"))));
  EXPECT_THAT(plan->warnings, ElementsAre(AllOf(HasSubstr("ignored photos/d.txt"),
                                                HasSubstr("no file named photos/d.*"))));
}

TEST(CaptionPlanTest, SidecarPrefersTheImageAmongFilesOfItsStem) {
  std::vector<ArchiveFile> files = {{"a.jpg", kJpeg}, {"a.xmp", "<x:xmpmeta/>"}, {"a.txt", "TOK"}};
  const absl::StatusOr<CaptionPlan> plan = PlanCaptions(files, Options());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->by_file.at("a.jpg"), Planned("sks", "a.txt"));
  EXPECT_THAT(plan->by_file.at("a.xmp"), Planned("a photo of sks", "caption_prefix"));

  std::vector<ArchiveFile> two_images = {{"a.jpg", kJpeg}, {"a.png", kPng}, {"a.txt", "TOK"}};
  EXPECT_THAT(Message(PlanCaptions(two_images, Options()).status()),
              AllOf(HasSubstr("a.txt"), HasSubstr("a.jpg, a.png")));
}

TEST(CaptionPlanTest, EmptyOrNonUtf8SidecarsAreErrorsListingEveryFile) {
  std::vector<ArchiveFile> files = {
      {"a.jpg", kJpeg}, {"a.txt", " \n\t"},       {"b.jpg", kJpeg}, {"b.caption", "\xEF\xBB\xBF"},
      {"c.jpg", kJpeg}, {"c.txt", "caf\xE9 TOK"}, {"d.jpg", kJpeg}, {"d.txt", "fine TOK"}};
  const absl::StatusOr<CaptionPlan> plan = PlanCaptions(files, Options());
  EXPECT_TRUE(absl::IsInvalidArgument(plan.status()));
  EXPECT_THAT(Message(plan.status()),
              AllOf(HasSubstr("a.txt: empty caption"), HasSubstr("b.caption: empty caption"),
                    HasSubstr("c.txt: not valid UTF-8"), Not(HasSubstr("d.txt"))));
}

TEST(CaptionPlanTest, ACaptionFromBothTableAndSidecarIsAnErrorNamingBoth) {
  std::vector<ArchiveFile> files = {{"a.jpg", kJpeg},
                                    {"a.txt", "TOK from the sidecar"},
                                    {"b.jpg", kJpeg},
                                    {"b.txt", "TOK here"},
                                    {"b.caption", "TOK there"},
                                    {"c.jpg", kJpeg},
                                    {"c.caption", "TOK from the sidecar"},
                                    {"d.jpg", kJpeg},
                                    {"caption.csv",
                                     "image_file,caption\na.jpg,TOK from the table\nd.jpg,TOK\n"
                                     "c.jpg,TOK from the table\n"}};
  const absl::StatusOr<CaptionPlan> plan = PlanCaptions(files, Options());
  EXPECT_TRUE(absl::IsInvalidArgument(plan.status()));
  EXPECT_THAT(Message(plan.status()),
              AllOf(HasSubstr("a.jpg is captioned twice, by caption.csv row 2 and by a.txt"),
                    HasSubstr("c.jpg is captioned twice, by caption.csv row 4 and by c.caption"),
                    HasSubstr("a second caption file for b.jpg"), Not(HasSubstr("d.jpg"))));
}

TEST(CaptionPlanTest, TableAndSidecarErrorsAreReportedTogether) {
  std::vector<ArchiveFile> files = {
      {"a.jpg", kJpeg},
      {"b.txt", ""},
      {"b.jpg", kJpeg},
      {"caption.csv", "image_file,caption\na.jpg,TOK\nmissing.jpg,TOK\nc.jpg,\n"}};
  const absl::StatusOr<CaptionPlan> plan = PlanCaptions(files, Options());
  EXPECT_TRUE(absl::IsInvalidArgument(plan.status()));
  EXPECT_THAT(Message(plan.status()),
              AllOf(HasSubstr("caption.csv: row 4: empty caption for \"c.jpg\""),
                    HasSubstr("b.txt: empty caption")));
  std::vector<ArchiveFile> unmatched = {
      {"a.jpg", kJpeg},
      {"b.txt", ""},
      {"b.jpg", kJpeg},
      {"caption.csv", "image_file,caption\na.jpg,TOK\nmissing.jpg,TOK\ngone.jpg,TOK\n"}};
  EXPECT_THAT(Message(PlanCaptions(unmatched, Options()).status()),
              AllOf(HasSubstr("row 3: image_file \"missing.jpg\" names no image"),
                    HasSubstr("row 4: image_file \"gone.jpg\" names no image"),
                    HasSubstr("b.txt: empty caption")));
}

TEST(CaptionPlanTest, CaptionPrefixWithoutTheTokenIsAnErrorListingEveryImageUsingIt) {
  std::vector<ArchiveFile> files = {{"a.jpg", kJpeg},
                                    {"b.png", kPng},
                                    {"c.jpg", kJpeg},
                                    {"c.txt", "TOK"},
                                    {"notes.pdf", "%PDF-1.4"}};
  const absl::StatusOr<CaptionPlan> plan = PlanCaptions(files, Options("a photo of a man"));
  EXPECT_TRUE(absl::IsInvalidArgument(plan.status()));
  EXPECT_THAT(Message(plan.status()),
              AllOf(HasSubstr("caption_prefix \"a photo of a man\" holds neither the "
                              "placeholder TOK nor token_string \"sks\""),
                    HasSubstr("2 image(s) without a caption of their own (a.jpg, b.png)"),
                    HasSubstr("put TOK in caption_prefix")));

  for (const std::string prefix : {"a photo of sks", "TOK", "(TOK) person"}) {
    std::vector<ArchiveFile> ok = {{"a.jpg", kJpeg}};
    EXPECT_TRUE(PlanCaptions(ok, Options(prefix)).ok()) << prefix;
  }
  for (const std::string prefix : {"", "a photo of tok", "a photo of TOKEN", "a photo of sksx"}) {
    std::vector<ArchiveFile> bad = {{"a.jpg", kJpeg}};
    EXPECT_TRUE(absl::IsInvalidArgument(PlanCaptions(bad, Options(prefix)).status())) << prefix;
  }
}

TEST(CaptionPlanTest, CaptionPrefixNobodyUsesNeedsNoToken) {
  std::vector<ArchiveFile> files = {{"a.jpg", kJpeg}, {"a.txt", "TOK"}, {"notes.pdf", "%PDF"}};
  const absl::StatusOr<CaptionPlan> plan = PlanCaptions(files, Options("no token here"));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->by_file.at("notes.pdf"), Planned("no token here", "caption_prefix"));
}

TEST(CaptionPlanTest, TokenStringMustBeOneWord) {
  for (const std::string token : {"", "two words", "tab\there", "new\nline"}) {
    std::vector<ArchiveFile> files = {{"a.jpg", kJpeg}};
    const absl::StatusOr<CaptionPlan> plan =
        PlanCaptions(files, CaptionOptions{.token_string = token, .caption_prefix = "TOK"});
    EXPECT_TRUE(absl::IsInvalidArgument(plan.status())) << token;
    EXPECT_THAT(Message(plan.status()), HasSubstr("token_string")) << token;
  }
}

TEST(CaptionPlanTest, CaptionsWithoutTheTokenAreAWarning) {
  std::vector<ArchiveFile> files = {
      {"a.jpg", kJpeg},
      {"b.jpg", kJpeg},
      {"b.txt", "a man on a bike"},
      {"c.jpg", kJpeg},
      {"caption.csv", "image_file,caption\na.jpg,a TOKEN shop\nc.jpg,sks smiling\n"}};
  const absl::StatusOr<CaptionPlan> plan = PlanCaptions(files, Options());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->warnings, ElementsAre(AllOf(HasSubstr("2 caption(s)"),
                                                HasSubstr("(caption.csv row 2, b.txt)"))));
}

}  // namespace
}  // namespace easel::preprocess
