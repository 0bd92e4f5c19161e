// The hostile corpus: archives built to break ingest (bombs, path traversal, links, special
// files, encryption, nesting, truncation, huge entry counts, huge images), each with the
// outcome docs/preprocessing.md promises, and proof that nothing is written outside the work
// directory. The zips and images are built in hostile_corpus.cc, which
// tests/e2e/hostile_archive_e2e_test.cc sends through the coordinator. Set EASEL_FUZZ_SEED_DIR
// to also write each small case there (seeds for tests/fuzz/corpus).

#include <cstdlib>
#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_format.h"
#include "preprocess/ingest/archive_reader.h"
#include "preprocess/manifest.h"
#include "preprocess/prepare_dataset.h"
#include "tests/preprocess/hostile_corpus.h"
#include "tests/preprocess/test_support.h"

namespace easel::preprocess {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;
using testing::Encode;
using testing::Gzip;
using testing::HeicBytes;
using testing::HostileCase;
using testing::HugePng;
using testing::Jpeg;
using testing::NestedAndIgnoredZip;
using testing::ReadFileBytes;
using testing::RefusedZipCases;
using testing::ScopedTempDir;
using testing::SolidImage;
using testing::TarBuilder;
using testing::TruncatedJpeg;
using testing::WriteFileBytes;
using testing::ZipBytes;
using testing::ZipEntrySpec;

constexpr size_t kMaxSeedBytes = 16 * 1024;

std::map<std::string, std::string> Snapshot(const fs::path& root, const fs::path& excluded) {
  std::map<std::string, std::string> entries;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    if (it->path() == excluded) {
      it.disable_recursion_pending();
      continue;
    }
    const std::string relative = fs::relative(it->path(), root).string();
    entries[relative] = it->is_regular_file() ? ReadFileBytes(it->path()) : std::string("<dir>");
  }
  return entries;
}

// Every regular file under `dir`, relative to it.
std::vector<std::string> FilesUnder(const fs::path& dir) {
  std::vector<std::string> files;
  if (!fs::exists(dir)) return files;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_directory()) files.push_back(fs::relative(entry.path(), dir).string());
  }
  return files;
}

void MaybeWriteSeed(const std::string& name, const std::string& bytes) {
  const char* dir = std::getenv("EASEL_FUZZ_SEED_DIR");
  if (dir == nullptr || bytes.size() > kMaxSeedBytes) return;
  WriteFileBytes(fs::path(dir) / name, bytes);
}

// The archive sits in sandbox/, the dataset goes to sandbox/work/dataset: after the run,
// nothing outside sandbox/work may have changed, and sandbox/work may hold only the dataset.
class HostileArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(work_); }

  absl::StatusOr<PreprocessResult> Prepare(const std::string& case_name,
                                           const std::string& archive) {
    MaybeWriteSeed(case_name, archive);
    WriteFileBytes(sandbox_ / "upload.bin", archive);
    const auto before = Snapshot(root_, work_);
    absl::StatusOr<PreprocessResult> result = PrepareDataset(
        {.archive = sandbox_ / "upload.bin", .output = work_ / "dataset", .resolution = 16});
    EXPECT_EQ(Snapshot(root_, work_), before) << "files changed outside the work directory";
    for (const std::string& file : FilesUnder(work_)) {
      EXPECT_TRUE(result.ok()) << "a refused archive left " << file;
      EXPECT_THAT(file, ::testing::AnyOf(std::string("dataset/manifest.json"),
                                       ::testing::MatchesRegex("dataset/images/[0-9]{4}\\.png")));
    }
    return result;
  }

  // ReadArchive (zip, tar, tar.gz) on the same sandbox.
  absl::StatusOr<ArchiveContents> Read(const std::string& case_name, const std::string& archive) {
    MaybeWriteSeed(case_name, archive);
    WriteFileBytes(sandbox_ / "upload.bin", archive);
    const auto before = Snapshot(root_, fs::path());
    absl::StatusOr<ArchiveContents> contents = ReadArchive(sandbox_ / "upload.bin");
    EXPECT_EQ(Snapshot(root_, fs::path()), before) << "reading an archive wrote files";
    return contents;
  }

  Manifest ManifestOf(const absl::StatusOr<PreprocessResult>& result) {
    absl::StatusOr<Manifest> manifest = ParseManifest(ReadFileBytes(result->manifest));
    EXPECT_TRUE(manifest.ok()) << manifest.status();
    return manifest.ok() ? *manifest : Manifest{};
  }

  ScopedTempDir temp_;
  fs::path root_ = temp_.path();
  fs::path sandbox_ = root_ / "sandbox";
  fs::path work_ = sandbox_ / "work";
};

// ---- Refusals through the whole PrepareDataset (zip) -------------------------------------

class RefusedZipTest : public HostileArchiveTest,
                       public ::testing::WithParamInterface<HostileCase> {};

TEST_P(RefusedZipTest, IsRefusedNamingTheCauseAndWritesNothing) {
  const HostileCase& c = GetParam();
  const absl::StatusOr<PreprocessResult> result = Prepare(c.name, c.make());
  RecordProperty("outcome", result.status().ToString());
  EXPECT_EQ(result.status().code(), c.code) << result.status();
  for (const std::string& part : c.message_parts) {
    EXPECT_THAT(std::string(result.status().message()), HasSubstr(part));
  }
  EXPECT_FALSE(fs::exists(testing::kAbsolutePathTarget));
  EXPECT_FALSE(fs::exists(testing::kDeepSlipTarget));
}

INSTANTIATE_TEST_SUITE_P(HostileCorpus, RefusedZipTest, ::testing::ValuesIn(RefusedZipCases()),
                         [](const ::testing::TestParamInfo<HostileCase>& info) {
                           return info.param.name;
                         });

// ---- Refusals of tar archives (ReadArchive) ----------------------------------------------

std::vector<HostileCase> RefusedTars() {
  const auto with_image = [](const testing::TarEntrySpec& entry) {
    return TarBuilder().Add({.name = "a.jpg", .data = Jpeg()}).Add(entry).Finish();
  };
  return {
      {"tar_symlink",
       [=] { return with_image({.name = "link.png", .type = '2', .link = "/etc/passwd"}); },
       absl::StatusCode::kInvalidArgument,
       {"\"link.png\"", "symlink"}},
      {"tar_hardlink",
       [=] { return with_image({.name = "hard.png", .type = '1', .link = "/etc/shadow"}); },
       absl::StatusCode::kInvalidArgument,
       {"\"hard.png\"", "hard link"}},
      {"tar_char_device",
       [=] { return with_image({.name = "dev/zero", .type = '3'}); },
       absl::StatusCode::kInvalidArgument,
       {"\"dev/zero\"", "device file"}},
      {"tar_block_device",
       [=] { return with_image({.name = "dev/sda", .type = '4'}); },
       absl::StatusCode::kInvalidArgument,
       {"\"dev/sda\"", "device file"}},
      {"tar_fifo",
       [=] { return with_image({.name = "pipe", .type = '6'}); },
       absl::StatusCode::kInvalidArgument,
       {"\"pipe\"", "FIFO"}},
      {"tar_dotdot",
       [=] { return with_image({.name = "../evil.png", .data = "x"}); },
       absl::StatusCode::kInvalidArgument,
       {"\"../evil.png\"", "\"..\" component"}},
      {"tar_absolute_path",
       [=] { return with_image({.name = "/tmp/easel-hostile-absolute.png", .data = "x"}); },
       absl::StatusCode::kInvalidArgument,
       {"absolute path"}},
      {"tar_pax_path_dotdot",
       [] {
         return TarBuilder()
             .AddPax({{"path", "../../pax-evil.png"}})
             .Add({.name = "innocent.png", .data = "x"})
             .Finish();
       },
       absl::StatusCode::kInvalidArgument,
       {"../../pax-evil.png"}},
      {"tar_truncated",
       [=] { return with_image({.name = "b.jpg", .data = Jpeg()}).substr(0, 1500); },
       absl::StatusCode::kInvalidArgument,
       {"truncated"}},
      {"tar_gz_bomb",
       [] {
         return Gzip(TarBuilder().Add({.name = "zeros.jpg", .data = std::string(4 << 20, '\0')}).Finish());
       },
       absl::StatusCode::kResourceExhausted,
       {"compression ratio", "zeros.jpg"}},
      {"tar_gz_truncated",
       [=] {
         const std::string whole = Gzip(with_image({.name = "b.jpg", .data = Jpeg()}));
         return whole.substr(0, whole.size() / 2);
       },
       absl::StatusCode::kInvalidArgument,
       {"truncated"}},
      {"tar_50000_entries",
       [] {
         TarBuilder tar;
         for (int i = 0; i < 50000; ++i) tar.Add({.name = absl::StrFormat("f%05d.jpg", i)});
         return Gzip(tar.Finish(), /*level=*/1);
       },
       absl::StatusCode::kResourceExhausted,
       {"more than 10000 entries"}},
      {"xz_archive",
       [] { return std::string("\xFD" "7zXZ\0\0\0\0", 10); },
       absl::StatusCode::kInvalidArgument,
       {"xz", "upload a zip, a tar or a gzip-compressed tar"}},
  };
}

class RefusedTarTest : public HostileArchiveTest,
                       public ::testing::WithParamInterface<HostileCase> {};

TEST_P(RefusedTarTest, IsRefusedNamingTheCauseAndWritesNothing) {
  const HostileCase& c = GetParam();
  const absl::StatusOr<ArchiveContents> contents = Read(c.name, c.make());
  RecordProperty("outcome", contents.status().ToString());
  EXPECT_EQ(contents.status().code(), c.code) << contents.status();
  for (const std::string& part : c.message_parts) {
    EXPECT_THAT(std::string(contents.status().message()), HasSubstr(part));
  }
}

INSTANTIATE_TEST_SUITE_P(HostileCorpus, RefusedTarTest, ::testing::ValuesIn(RefusedTars()),
                         [](const ::testing::TestParamInfo<HostileCase>& info) {
                           return info.param.name;
                         });

// ---- Entries ignored or skipped, the rest used -------------------------------------------

TEST_F(HostileArchiveTest, NestedArchivesMacMetadataAndDotfilesAreIgnoredWithANote) {
  const absl::StatusOr<PreprocessResult> result =
      Prepare("zip_nested_and_ignored", NestedAndIgnoredZip());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->images, 1);
  EXPECT_EQ(result->skipped, 0);
  const Manifest manifest = ManifestOf(result);
  EXPECT_THAT(manifest.warnings,
              UnorderedElementsAre(
                  "ignored photos/more.zip: an archive inside the archive (zip); it is not opened",
                  "ignored photos/old.tar.gz: an archive inside the archive (gzip); it is not opened",
                  "ignored __MACOSX/photos/._a.jpg: macOS metadata (__MACOSX/)",
                  "ignored .DS_Store: hidden file"));
}

TEST_F(HostileArchiveTest, BadImagesAreSkippedWithReasons) {
  const std::string archive =
      ZipBytes({{.name = "good.jpg", .data = Jpeg()},
                {.name = "huge.png", .data = HugePng()},
                {.name = "truncated.jpg", .data = TruncatedJpeg()},
                {.name = "iphone.jpg", .data = HeicBytes()},
                {.name = "notes.pdf", .data = "not a picture"}});
  const absl::StatusOr<PreprocessResult> result = Prepare("zip_bad_images", archive);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->images, 1);
  const Manifest manifest = ManifestOf(result);
  EXPECT_THAT(
      manifest.skipped,
      ElementsAre(
          AllOf(Field(&ManifestSkip::source, "huge.png"),
                Field(&ManifestSkip::reason,
                      "image too large: PNG of 100000x100000 pixels; the limit is 120000000 pixels")),
          AllOf(Field(&ManifestSkip::source, "iphone.jpg"),
                Field(&ManifestSkip::reason, HasSubstr("unsupported image format HEIF"))),
          AllOf(Field(&ManifestSkip::source, "notes.pdf"), Field(&ManifestSkip::reason, "not an image")),
          AllOf(Field(&ManifestSkip::source, "truncated.jpg"),
                Field(&ManifestSkip::reason, "corrupt JPEG: truncated (no end-of-image marker)"))));
}

TEST_F(HostileArchiveTest, UnicodeNamesAreKept) {
  // Three pictures: the same pixels three times would be kept once.
  const std::string archive = ZipBytes({{.name = "фото/снимок.jpg", .data = Jpeg({0, 0, 255})},
                                        {.name = "写真.jpg", .data = Jpeg({0, 255, 0})},
                                        {.name = "café ☕.jpg", .data = Jpeg({255, 0, 0})}});
  const absl::StatusOr<PreprocessResult> result = Prepare("zip_unicode_names", archive);
  ASSERT_TRUE(result.ok()) << result.status();
  const Manifest manifest = ManifestOf(result);
  std::vector<std::string> sources;
  for (const ManifestImage& image : manifest.images) sources.push_back(image.source);
  EXPECT_THAT(sources, ElementsAre("café ☕.jpg", "фото/снимок.jpg", "写真.jpg"));

  const absl::StatusOr<ArchiveContents> tar = Read(
      "tar_unicode_names", TarBuilder()
                               .Add({.name = "фото/снимок.jpg", .data = "x"})
                               .AddPax({{"path", "写真/café ☕.jpg"}})
                               .Add({.name = "ascii.jpg", .data = "y"})
                               .Finish());
  ASSERT_TRUE(tar.ok()) << tar.status();
  EXPECT_THAT(tar->files, ElementsAre(Field(&ArchiveFile::name, "фото/снимок.jpg"),
                                      Field(&ArchiveFile::name, "写真/café ☕.jpg")));
}

TEST_F(HostileArchiveTest, EmptyTarReadsAsEmptyAndTarIgnoresLikeZip) {
  const absl::StatusOr<ArchiveContents> empty = Read("tar_empty", std::string(10240, '\0'));
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->files.empty());

  const absl::StatusOr<ArchiveContents> nested = Read(
      "tar_nested_zip", Gzip(TarBuilder()
                                 .Add({.name = "a.jpg", .data = Jpeg()})
                                 .Add({.name = "inner.jpg",  // an archive, whatever its name
                                       .data = ZipBytes({{.name = "b.jpg", .data = Jpeg()}})})
                                 .Add({.name = "__MACOSX/._a.jpg", .data = "m"})
                                 .Finish()));
  ASSERT_TRUE(nested.ok()) << nested.status();
  EXPECT_THAT(nested->files, ElementsAre(Field(&ArchiveFile::name, "a.jpg")));
  EXPECT_THAT(nested->ignored,
              ElementsAre(AllOf(Field(&IgnoredEntry::name, "inner.jpg"),
                                Field(&IgnoredEntry::reason, HasSubstr("archive inside the archive (zip)"))),
                          Field(&IgnoredEntry::name, "__MACOSX/._a.jpg")));
}

TEST_F(HostileArchiveTest, SmallValidArchivesAreSeeds) {
  // Not hostile: valid inputs, so that the fuzz corpus starts from every format.
  const std::string csv = "image_file,caption\na.jpg,TOK smiling\n";
  const std::string png = Encode(SolidImage(12, 10, {255, 0, 0}), ".png");
  const std::string webp = Encode(SolidImage(10, 12, {0, 255, 0}), ".webp");
  const std::vector<ZipEntrySpec> entries = {{.name = "a.jpg", .data = Jpeg()},
                                             {.name = "b.png", .data = png},
                                             {.name = "c.webp", .data = webp},
                                             {.name = "caption.csv", .data = csv}};
  const absl::StatusOr<PreprocessResult> zip = Prepare("valid_zip", ZipBytes(entries));
  ASSERT_TRUE(zip.ok()) << zip.status();
  EXPECT_EQ(zip->images, 3);
  TarBuilder tar;
  for (const ZipEntrySpec& entry : entries) tar.Add({.name = entry.name, .data = entry.data});
  const absl::StatusOr<ArchiveContents> plain = Read("valid_tar", tar.Finish());
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->files.size(), 4u);
  const absl::StatusOr<ArchiveContents> gzipped = Read("valid_tar_gz", Gzip(tar.Finish()));
  ASSERT_TRUE(gzipped.ok()) << gzipped.status();
  EXPECT_EQ(gzipped->files.size(), 4u);
  MaybeWriteSeed("image_jpeg", Jpeg());
  MaybeWriteSeed("image_png", png);
  MaybeWriteSeed("image_webp", webp);
}

}  // namespace
}  // namespace easel::preprocess
