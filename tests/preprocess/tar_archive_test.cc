#include "preprocess/ingest/tar_archive.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "preprocess/ingest/archive_format.h"
#include "preprocess/ingest/archive_reader.h"
#include "preprocess/ingest/byte_source.h"
#include "tests/preprocess/test_support.h"

namespace easel::preprocess {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::Gzip;
using testing::TarBuilder;
using testing::TarEntrySpec;

absl::StatusOr<ArchiveContents> ReadTar(const std::string& bytes, const ArchiveLimits& limits = {}) {
  return ReadArchiveFromMemory(bytes, limits);
}

auto IsFile(const std::string& name, const std::string& data) {
  return AllOf(Field(&ArchiveFile::name, name), Field(&ArchiveFile::data, data));
}

auto IsIgnored(const std::string& name, const std::string& reason_part) {
  return AllOf(Field(&IgnoredEntry::name, name), Field(&IgnoredEntry::reason, HasSubstr(reason_part)));
}

void ExpectRefused(const absl::StatusOr<ArchiveContents>& contents, absl::StatusCode code,
                   const std::vector<std::string>& message_parts) {
  EXPECT_EQ(contents.status().code(), code) << contents.status();
  for (const std::string& part : message_parts) {
    EXPECT_THAT(std::string(contents.status().message()), HasSubstr(part));
  }
}

TEST(ArchiveFormatTest, RecognisesFormatsByMagicBytes) {
  EXPECT_EQ(DetectArchiveFormat(std::string("PK\x03\x04", 4)), ArchiveFormat::kZip);
  EXPECT_EQ(DetectArchiveFormat(std::string("PK\x05\x06", 4)), ArchiveFormat::kZip);
  EXPECT_EQ(DetectArchiveFormat(TarBuilder().Add({.name = "a", .data = "x"}).Finish()),
            ArchiveFormat::kTar);
  EXPECT_EQ(DetectArchiveFormat(TarBuilder().Add({.name = "a", .gnu = true}).Finish()),
            ArchiveFormat::kTar);
  EXPECT_EQ(DetectArchiveFormat(std::string(1024, '\0')), ArchiveFormat::kTar);  // empty tar
  EXPECT_EQ(DetectArchiveFormat(Gzip("hello")), ArchiveFormat::kGzip);
  EXPECT_EQ(DetectArchiveFormat("BZh91AY&SY"), ArchiveFormat::kBzip2);
  EXPECT_EQ(DetectArchiveFormat(std::string("\xFD" "7zXZ\0", 6)), ArchiveFormat::kXz);
  EXPECT_EQ(DetectArchiveFormat("\x28\xB5\x2F\xFD...."), ArchiveFormat::kZstd);
  EXPECT_EQ(DetectArchiveFormat("7z\xBC\xAF\x27\x1C.."), ArchiveFormat::kSevenZip);
  EXPECT_EQ(DetectArchiveFormat("Rar!\x1A\x07\x01"), ArchiveFormat::kRar);
  EXPECT_EQ(DetectArchiveFormat("\xFF\xD8\xFF\xE0"), ArchiveFormat::kUnknown);
  EXPECT_EQ(DetectArchiveFormat(std::string(511, '\0')), ArchiveFormat::kUnknown);
  EXPECT_EQ(DetectArchiveFormat(""), ArchiveFormat::kUnknown);
}

TEST(TarArchiveTest, ReadsUstarGnuAndPaxEntries) {
  const std::string long_name = std::string(150, 'd') + "/long.png";
  const std::string tar = TarBuilder()
                              .Add({.name = "photos/", .type = '5', .mode = 0755})
                              .Add({.name = "photos/a.jpg", .data = "AAAA"})
                              .Add({.name = "b.png", .data = "BB", .prefix = "deep/dir"})
                              .Add({.name = "gnu.webp", .data = "C", .gnu = true})
                              .AddGnuLongName(long_name)
                              .Add({.name = "truncated-name", .data = "L", .gnu = true})
                              .AddPax({{"path", "фото/снимок.jpg"}, {"mtime", "1.5"}})
                              .Add({.name = "ascii-fallback.jpg", .data = "U"})
                              .Add({.name = "写真.png", .data = "Z"})
                              .Add({.name = "big.bin", .data = std::string(1000, 'b'),
                                    .base256_size = true})
                              .Add({.name = "old-contiguous", .data = "7", .type = '7'})
                              .Finish();
  const absl::StatusOr<ArchiveContents> contents = ReadTar(tar);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_THAT(contents->files,
              ElementsAre(IsFile("photos/a.jpg", "AAAA"), IsFile("deep/dir/b.png", "BB"),
                          IsFile("gnu.webp", "C"), IsFile(long_name, "L"),
                          IsFile("фото/снимок.jpg", "U"), IsFile("写真.png", "Z"),
                          IsFile("big.bin", std::string(1000, 'b')),
                          IsFile("old-contiguous", "7")));
  EXPECT_THAT(contents->ignored, ElementsAre(IsIgnored("photos/", "directory")));
}

TEST(TarArchiveTest, ReadsGzipCompressedTarAndIgnoresTrailingBytes) {
  const std::string tar = TarBuilder().Add({.name = "a.jpg", .data = "AAAA"}).Finish();
  const absl::StatusOr<ArchiveContents> contents = ReadTar(Gzip(tar) + "garbage");
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_THAT(contents->files, ElementsAre(IsFile("a.jpg", "AAAA")));
  // Two gzip members read as one stream.
  const std::string first = tar.substr(0, 1024);
  const absl::StatusOr<ArchiveContents> members = ReadTar(Gzip(first) + Gzip(tar.substr(1024)));
  ASSERT_TRUE(members.ok()) << members.status();
  EXPECT_THAT(members->files, ElementsAre(IsFile("a.jpg", "AAAA")));
}

TEST(TarArchiveTest, IgnoresMacMetadataDotfilesNestedArchivesAndVolumeLabels) {
  const std::string inner_zip = std::string("PK\x05\x06", 4) + std::string(18, '\0');
  const std::string tar = TarBuilder()
                              .Add({.name = "backup-volume", .type = 'V', .gnu = true})
                              .Add({.name = "__MACOSX/._a.jpg", .data = "meta"})
                              .Add({.name = ".DS_Store", .data = "ds"})
                              .Add({.name = "more.zip", .data = inner_zip})
                              .Add({.name = "more.tar.gz", .data = Gzip("x")})
                              .Add({.name = "a.jpg", .data = "A"})
                              .Finish();
  const absl::StatusOr<ArchiveContents> contents = ReadTar(tar);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_THAT(contents->files, ElementsAre(IsFile("a.jpg", "A")));
  EXPECT_THAT(contents->ignored,
              ElementsAre(IsIgnored("backup-volume", "volume label"),
                          IsIgnored("__MACOSX/._a.jpg", "__MACOSX"),
                          IsIgnored(".DS_Store", "hidden file"),
                          IsIgnored("more.zip", "archive inside the archive (zip)"),
                          IsIgnored("more.tar.gz", "archive inside the archive (gzip)")));
}

TEST(TarArchiveTest, RefusesLinksDevicesFifosAndSparseFilesNamingThem) {
  const struct {
    TarEntrySpec entry;
    std::string cause;
  } cases[] = {
      {{.name = "link.png", .type = '2', .link = "/etc/passwd"}, "symlink"},
      {{.name = "hard.png", .type = '1', .link = "a.jpg"}, "hard link"},
      {{.name = "tty", .type = '3'}, "device file"},
      {{.name = "sda", .type = '4'}, "device file"},
      {{.name = "pipe", .type = '6'}, "FIFO"},
      {{.name = "holes.bin", .type = 'S', .gnu = true}, "sparse"},
      {{.name = "part2", .type = 'M', .gnu = true}, "multi-volume"},
      {{.name = "odd", .type = 'Q'}, "unsupported tar entry type"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.entry.name);
    const std::string tar =
        TarBuilder().Add({.name = "a.jpg", .data = "A"}).Add(c.entry).Finish();
    ExpectRefused(ReadTar(tar), absl::StatusCode::kInvalidArgument, {c.entry.name, c.cause});
  }
  // A pax header marking a sparse file.
  const std::string pax_sparse = TarBuilder()
                                     .AddPax({{"GNU.sparse.major", "1"}})
                                     .Add({.name = "sparse.bin", .data = "x"})
                                     .Finish();
  ExpectRefused(ReadTar(pax_sparse), absl::StatusCode::kInvalidArgument, {"sparse.bin", "sparse"});
}

TEST(TarArchiveTest, RefusesEscapingPathsWhereverTheNameComesFrom) {
  const std::vector<std::string> plain = {
      TarBuilder().Add({.name = "../evil.png", .data = "x"}).Finish(),
      TarBuilder().Add({.name = "/etc/evil.png", .data = "x"}).Finish(),
      TarBuilder().Add({.name = "evil.png", .data = "x", .prefix = "a/../.."}).Finish(),
  };
  for (const std::string& tar : plain) {
    ExpectRefused(ReadTar(tar), absl::StatusCode::kInvalidArgument, {"evil.png"});
  }
  // A benign ustar name, overridden by a pax path or a GNU long name.
  const std::string pax = TarBuilder()
                              .AddPax({{"path", "../../pax-evil.png"}})
                              .Add({.name = "innocent.png", .data = "x"})
                              .Finish();
  ExpectRefused(ReadTar(pax), absl::StatusCode::kInvalidArgument, {"../../pax-evil.png", ".."});
  const std::string gnu = TarBuilder()
                              .AddGnuLongName("/abs/gnu-evil.png")
                              .Add({.name = "innocent.png", .data = "x", .gnu = true})
                              .Finish();
  ExpectRefused(ReadTar(gnu), absl::StatusCode::kInvalidArgument,
                {"/abs/gnu-evil.png", "absolute path"});
  // A symlink whose target escapes is refused as a symlink before anything else.
  const std::string link =
      TarBuilder().Add({.name = "../up", .type = '2', .link = "../../etc"}).Finish();
  ExpectRefused(ReadTar(link), absl::StatusCode::kInvalidArgument, {"symlink"});
}

TEST(TarArchiveTest, RefusesNamesThatAreNotUtf8AndRepeatedNames) {
  ExpectRefused(ReadTar(TarBuilder().Add({.name = "caf\xE9.jpg", .data = "x"}).Finish()),
                absl::StatusCode::kInvalidArgument, {"caf\\xE9.jpg", "not valid UTF-8"});
  ExpectRefused(ReadTar(TarBuilder()
                            .Add({.name = "a.jpg", .data = "1"})
                            .Add({.name = "./a.jpg", .data = "2"})
                            .Finish()),
                absl::StatusCode::kInvalidArgument, {"a.jpg", "more than once"});
}

TEST(TarArchiveTest, RefusesDamagedAndTruncatedArchives) {
  const std::string good = TarBuilder().Add({.name = "a.jpg", .data = std::string(3000, 'a')}).Finish();
  ExpectRefused(ReadTar(good.substr(0, 2048)), absl::StatusCode::kInvalidArgument,
                {"truncated in the middle of entry \"a.jpg\""});
  ExpectRefused(ReadTar(good.substr(0, 300 + 512)), absl::StatusCode::kInvalidArgument,
                {"truncated"});
  ExpectRefused(ReadTar(TarBuilder().Add({.name = "a.jpg", .data = "x"}).Finish(false)),
                absl::StatusCode::kInvalidArgument, {"without its end-of-archive block"});
  ExpectRefused(ReadTar(TarBuilder()
                            .Add({.name = "a.jpg", .data = "x"})
                            .Add({.name = "b.jpg", .data = "x", .bad_checksum = true})
                            .Finish()),
                absl::StatusCode::kInvalidArgument, {"bad checksum", "a.jpg"});
  ExpectRefused(ReadTar(Gzip(good).substr(0, 40)), absl::StatusCode::kInvalidArgument,
                {"gzip data is truncated"});
  std::string damaged_gzip = Gzip(good);
  damaged_gzip[12] = static_cast<char>(damaged_gzip[12] ^ 0xFF);
  const absl::StatusOr<ArchiveContents> damaged = ReadTar(damaged_gzip);
  EXPECT_TRUE(absl::IsInvalidArgument(damaged.status())) << damaged.status();
  ExpectRefused(ReadTar(Gzip("just some text, not a tar")), absl::StatusCode::kInvalidArgument,
                {"not a tar archive"});
  ExpectRefused(ReadTar(TarBuilder().AddPax({{"path", "x"}}).Finish().substr(0, 512) +
                        std::string("9 bad\n", 6) + std::string(506, '\0') +
                        std::string(1024, '\0')),
                absl::StatusCode::kInvalidArgument, {});
}

TEST(TarArchiveTest, EmptyTarReadsAsEmpty) {
  const absl::StatusOr<ArchiveContents> contents = ReadTar(std::string(10240, '\0'));
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_THAT(contents->files, IsEmpty());
  EXPECT_THAT(contents->ignored, IsEmpty());
}

TEST(TarArchiveTest, EnforcesLimits) {
  TarBuilder many;
  for (int i = 0; i < 101; ++i) many.Add({.name = "f" + std::to_string(i), .data = "x"});
  ExpectRefused(ReadTar(many.Finish(), {.max_entries = 100}),
                absl::StatusCode::kResourceExhausted, {"more than 100 entries"});
  EXPECT_TRUE(ReadTar(many.Finish(), {.max_entries = 101}).ok());

  const std::string two = TarBuilder()
                              .Add({.name = "a.bin", .data = std::string(3000, 'a')})
                              .Add({.name = "b.bin", .data = std::string(3000, 'b')})
                              .Finish();
  EXPECT_TRUE(ReadTar(two, {.max_file_bytes = 3000, .max_total_bytes = 6000}).ok());
  ExpectRefused(ReadTar(two, {.max_file_bytes = 2999}), absl::StatusCode::kResourceExhausted,
                {"a.bin", "limit per file"});
  ExpectRefused(ReadTar(two, {.max_total_bytes = 5999}), absl::StatusCode::kResourceExhausted,
                {"b.bin", "in all"});
  // A declared size past the limit is refused before anything is read.
  ExpectRefused(ReadTar(TarBuilder().Add({.name = "huge.bin", .size = int64_t{1} << 40, .base256_size = true})
                            .Finish()),
                absl::StatusCode::kResourceExhausted, {"huge.bin", "limit per file"});
  // Extended headers are bounded too.
  ExpectRefused(ReadTar(TarBuilder()
                            .AddPax({{"comment", std::string(2 << 20, 'c')}})
                            .Add({.name = "a", .data = "x"})
                            .Finish()),
                absl::StatusCode::kInvalidArgument, {"extended header"});
}

TEST(TarArchiveTest, GzipBombIsRefusedByTheCompressionRatio) {
  // 4 MiB of zeros gzip to ~4 KB: a ratio near 1000.
  const std::string tar =
      TarBuilder().Add({.name = "zeros.bin", .data = std::string(4 << 20, '\0')}).Finish();
  const std::string bomb = Gzip(tar);
  ASSERT_LT(bomb.size(), 64u << 10);
  ExpectRefused(ReadTar(bomb), absl::StatusCode::kResourceExhausted,
                {"compression ratio", "zeros.bin", "200:1"});
  // The same data uncompressed is fine: a plain tar has no ratio to judge.
  EXPECT_TRUE(ReadTar(tar).ok());
}

TEST(TarArchiveTest, ReadsFromAFile) {
  testing::ScopedTempDir temp;
  const std::filesystem::path path = temp.path() / "upload.bin";
  testing::WriteFileBytes(path, Gzip(TarBuilder().Add({.name = "a.jpg", .data = "A"}).Finish()));
  const absl::StatusOr<ArchiveContents> contents = ReadArchive(path);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_THAT(contents->files, ElementsAre(IsFile("a.jpg", "A")));
  EXPECT_TRUE(absl::IsNotFound(ReadArchive(temp.path() / "absent").status()));
}

}  // namespace
}  // namespace easel::preprocess
