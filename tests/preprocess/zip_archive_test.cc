#include "preprocess/ingest/zip_archive.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "preprocess/ingest/entry_path.h"
#include "tests/preprocess/test_support.h"

namespace easel::preprocess {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using testing::ScopedTempDir;
using testing::WriteFileBytes;
using testing::WriteZip;
using testing::ZipEntrySpec;

TEST(EntryPathTest, NormalizesSeparatorsAndDotComponents) {
  EXPECT_EQ(*NormalizeEntryPath("photos\\./a.jpg"), "photos/a.jpg");
  EXPECT_EQ(*NormalizeEntryPath("./photos//a.jpg"), "photos/a.jpg");
  EXPECT_EQ(*NormalizeEntryPath("photos/"), "photos/");
}

TEST(EntryPathTest, RejectsEscapingPaths) {
  for (const char* name : {"../evil.png", "a/../../evil.png", "a\\..\\evil.png", "/etc/passwd",
                           "\\server\\x.png", "C:/x.png"}) {
    const absl::StatusOr<std::string> normalized = NormalizeEntryPath(name);
    EXPECT_TRUE(absl::IsInvalidArgument(normalized.status())) << name;
    EXPECT_THAT(std::string(normalized.status().message()), HasSubstr(name));
  }
}

TEST(EntryPathTest, IgnoresDirectoriesMacMetadataAndDotfiles) {
  EXPECT_EQ(IgnoreReason("photos/"), "directory");
  EXPECT_TRUE(IgnoreReason("__MACOSX/photos/._a.jpg").has_value());
  EXPECT_TRUE(IgnoreReason(".DS_Store").has_value());
  EXPECT_TRUE(IgnoreReason("photos/.hidden/a.jpg").has_value());
  EXPECT_FALSE(IgnoreReason("photos/a.jpg").has_value());
  EXPECT_FALSE(IgnoreReason("MACOSX/a.jpg").has_value());
}

TEST(EntryPathTest, RefusesNamesThatAreNotUtf8OrTooLong) {
  for (const char* name : {"caf\xE9.jpg", "\xC0\xAF.jpg", "\xED\xA0\x80.jpg", "\xF4\x90\x80\x80"}) {
    const absl::StatusOr<std::string> normalized = NormalizeEntryPath(name);
    EXPECT_TRUE(absl::IsInvalidArgument(normalized.status())) << name;
    EXPECT_THAT(std::string(normalized.status().message()), HasSubstr("not valid UTF-8"));
  }
  EXPECT_EQ(*NormalizeEntryPath("фото/café ☕.jpg"), "фото/café ☕.jpg");
  const absl::StatusOr<std::string> long_name = NormalizeEntryPath(std::string(5000, 'a'));
  EXPECT_TRUE(absl::IsInvalidArgument(long_name.status()));
  EXPECT_THAT(std::string(long_name.status().message()), HasSubstr("the limit is 4096"));
  EXPECT_LT(long_name.status().message().size(), 400u);
}

TEST(EntryPathTest, QuotesNamesSafelyForMessages) {
  EXPECT_EQ(QuoteEntryName("a.jpg"), "\"a.jpg\"");
  EXPECT_EQ(QuoteEntryName("фото.jpg"), "\"фото.jpg\"");
  EXPECT_EQ(QuoteEntryName("a\nb\xFF"), "\"a\\x0Ab\\xFF\"");
  EXPECT_EQ(QuoteEntryName(std::string(300, 'x')), "\"" + std::string(200, 'x') + "…\"");
}

class ZipArchiveTest : public ::testing::Test {
 protected:
  ScopedTempDir temp_;
  std::filesystem::path dir_ = temp_.path();
};

TEST_F(ZipArchiveTest, ReadsFilesIntoMemoryAndNotesIgnoredEntries) {
  const std::filesystem::path zip = dir_ / "upload.bin";  // recognised by content, not name
  WriteZip(zip, {{.name = "photos/", .directory = true},
                 {.name = "photos/a.jpg", .data = "AAAA"},
                 {.name = "notes.txt", .data = std::string(100000, 'n')},
                 {.name = "__MACOSX/photos/._a.jpg", .data = "meta"},
                 {.name = ".DS_Store", .data = "ds"}});
  const absl::StatusOr<ArchiveContents> contents = ReadZipArchive(zip);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_THAT(contents->files,
              ElementsAre(AllOf(Field(&ArchiveFile::name, "photos/a.jpg"),
                                Field(&ArchiveFile::data, "AAAA")),
                          AllOf(Field(&ArchiveFile::name, "notes.txt"),
                                Field(&ArchiveFile::data, std::string(100000, 'n')))));
  EXPECT_THAT(contents->ignored,
              UnorderedElementsAre(Field(&IgnoredEntry::name, "photos/"),
                                   Field(&IgnoredEntry::name, "__MACOSX/photos/._a.jpg"),
                                   Field(&IgnoredEntry::name, ".DS_Store")));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_),
                          std::filesystem::directory_iterator()),
            1)
      << "nothing may be extracted to disk";
}

TEST_F(ZipArchiveTest, RejectsNonZipWhateverItsName) {
  const std::filesystem::path fake = dir_ / "data.zip";
  WriteFileBytes(fake, "this is plain text, not an archive");
  const absl::StatusOr<ArchiveContents> contents = ReadZipArchive(fake);
  EXPECT_TRUE(absl::IsInvalidArgument(contents.status()));
  EXPECT_THAT(std::string(contents.status().message()), HasSubstr("is not a zip archive"));
}

TEST_F(ZipArchiveTest, MissingFileIsNotFound) {
  EXPECT_TRUE(absl::IsNotFound(ReadZipArchive(dir_ / "absent.zip").status()));
}

TEST_F(ZipArchiveTest, RejectsParentDirectoryEntryNamingIt) {
  const std::filesystem::path zip = dir_ / "evil.zip";
  WriteZip(zip, {{.name = "a.png", .data = "x"}, {.name = "../evil.png", .data = "x"}});
  const absl::StatusOr<ArchiveContents> contents = ReadZipArchive(zip);
  EXPECT_TRUE(absl::IsInvalidArgument(contents.status()));
  EXPECT_THAT(std::string(contents.status().message()), HasSubstr("../evil.png"));
}

TEST_F(ZipArchiveTest, RejectsAbsolutePathEntry) {
  const std::filesystem::path zip = dir_ / "absolute.zip";
  WriteZip(zip, {{.name = "/tmp/evil.png", .data = "x"}});
  const absl::StatusOr<ArchiveContents> contents = ReadZipArchive(zip);
  EXPECT_TRUE(absl::IsInvalidArgument(contents.status()));
  EXPECT_THAT(std::string(contents.status().message()), HasSubstr("/tmp/evil.png"));
}

TEST_F(ZipArchiveTest, RejectsSymlinkEntryNamingIt) {
  const std::filesystem::path zip = dir_ / "symlink.zip";
  WriteZip(zip, {{.name = "a.png", .data = "x", .unix_mode = 0100644},
                 {.name = "link.png", .data = "/etc/passwd", .unix_mode = 0120777}});
  const absl::StatusOr<ArchiveContents> contents = ReadZipArchive(zip);
  EXPECT_TRUE(absl::IsInvalidArgument(contents.status()));
  EXPECT_THAT(std::string(contents.status().message()), HasSubstr("link.png"));
  EXPECT_THAT(std::string(contents.status().message()), HasSubstr("symlink"));
}

TEST_F(ZipArchiveTest, RejectsEncryptedEntryNamingIt) {
  const std::filesystem::path zip = dir_ / "encrypted.zip";
  WriteZip(zip, {{.name = "secret.png", .data = "x", .encrypt = true}});
  const absl::StatusOr<ArchiveContents> contents = ReadZipArchive(zip);
  EXPECT_TRUE(absl::IsInvalidArgument(contents.status()));
  EXPECT_THAT(std::string(contents.status().message()), HasSubstr("secret.png"));
  EXPECT_THAT(std::string(contents.status().message()), HasSubstr("encrypted"));
}

TEST_F(ZipArchiveTest, EnforcesEntryCountLimit) {
  const std::filesystem::path zip = dir_ / "many.zip";
  WriteZip(zip, {{.name = "a", .data = "1"}, {.name = "b", .data = "2"}, {.name = "c", .data = "3"}});
  EXPECT_TRUE(ReadZipArchive(zip, {.max_entries = 3}).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(ReadZipArchive(zip, {.max_entries = 2}).status()));
}

TEST_F(ZipArchiveTest, EnforcesInflatedSizeLimitsPerFileAndInTotal) {
  const std::filesystem::path zip = dir_ / "big.zip";
  // Zeros compress to almost nothing: only the inflated count can catch them.
  WriteZip(zip, {{.name = "a.bin", .data = std::string(200000, '\0')},
                 {.name = "b.bin", .data = std::string(200000, '\0')}});
  ASSERT_LT(std::filesystem::file_size(zip), 10000u);
  EXPECT_TRUE(ReadZipArchive(zip, {.max_file_bytes = 200000, .max_total_bytes = 400000}).ok());

  const absl::StatusOr<ArchiveContents> per_file =
      ReadZipArchive(zip, {.max_file_bytes = 199999, .max_total_bytes = 400000});
  EXPECT_TRUE(absl::IsResourceExhausted(per_file.status()));
  EXPECT_THAT(std::string(per_file.status().message()), HasSubstr("a.bin"));

  const absl::StatusOr<ArchiveContents> total =
      ReadZipArchive(zip, {.max_file_bytes = 200000, .max_total_bytes = 399999});
  EXPECT_TRUE(absl::IsResourceExhausted(total.status()));
  EXPECT_THAT(std::string(total.status().message()), HasSubstr("b.bin"));
}

TEST_F(ZipArchiveTest, ReadsFromMemoryTheSameAsFromAFile) {
  const std::filesystem::path zip = dir_ / "upload.bin";
  WriteZip(zip, {{.name = "фото/снимок.jpg", .data = "A"},
                 {.name = "inner.png", .data = std::string("PK\x05\x06", 4) + std::string(18, '\0')}});
  const absl::StatusOr<ArchiveContents> contents =
      ReadZipArchiveFromMemory(testing::ReadFileBytes(zip));
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_THAT(contents->files, ElementsAre(Field(&ArchiveFile::name, "фото/снимок.jpg")));
  EXPECT_THAT(contents->ignored,
              ElementsAre(AllOf(Field(&IgnoredEntry::name, "inner.png"),
                                Field(&IgnoredEntry::reason, HasSubstr("archive inside the archive")))));
  EXPECT_TRUE(absl::IsInvalidArgument(ReadZipArchiveFromMemory("PK\x03\x04 cut").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ReadZipArchiveFromMemory("plain text").status()));
}

TEST_F(ZipArchiveTest, CompressionRatioLimitSparesSmallFilesAndCatchesBigOnes) {
  const std::filesystem::path zip = dir_ / "zeros.zip";
  WriteZip(zip, {{.name = "zeros.bin", .data = std::string(3 << 20, '\0')}});
  ASSERT_LT(std::filesystem::file_size(zip), 20000u);
  // Under the 1 MiB floor nothing is judged; past it, 200:1 is the limit.
  EXPECT_TRUE(ReadZipArchive(zip, {.ratio_floor_bytes = 4 << 20}).ok());
  const absl::StatusOr<ArchiveContents> refused = ReadZipArchive(zip);
  EXPECT_TRUE(absl::IsResourceExhausted(refused.status()));
  EXPECT_THAT(std::string(refused.status().message()),
              AllOf(HasSubstr("zeros.bin"), HasSubstr("compression ratio")));
  EXPECT_TRUE(ReadZipArchive(zip, {.max_compression_ratio = 0}).ok()) << "0 turns it off";
}

TEST_F(ZipArchiveTest, EmptyArchiveReadsAsEmpty) {
  const std::filesystem::path zip = dir_ / "empty.zip";
  // The end-of-central-directory record alone: an empty zip as zip(1) writes it.
  WriteFileBytes(zip, std::string("PK\x05\x06", 4) + std::string(18, '\0'));
  const absl::StatusOr<ArchiveContents> contents = ReadZipArchive(zip);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_TRUE(contents->files.empty());
}

}  // namespace
}  // namespace easel::preprocess
