#include "tests/preprocess/hostile_corpus.h"

#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <random>

#include "absl/strings/str_format.h"
#include "common/ids.h"

namespace easel::preprocess::testing {
namespace {

std::string PngChunk(const std::string& type, const std::string& data) {
  std::string chunk;
  for (int shift = 24; shift >= 0; shift -= 8) {
    chunk.push_back(static_cast<char>((data.size() >> shift) & 0xFF));
  }
  const std::string body = type + data;
  const uint32_t crc =
      static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size()));
  chunk += body;
  for (int shift = 24; shift >= 0; shift -= 8) {
    chunk.push_back(static_cast<char>((crc >> shift) & 0xFF));
  }
  return chunk;
}

// "../" enough times to climb from any directory to the root, then `target` without its
// leading "/".
std::string ClimbingName(const std::string& target) {
  std::string name;
  for (int i = 0; i < 32; ++i) name += "../";
  return name + target.substr(1);
}

}  // namespace

std::string Jpeg(const cv::Scalar& bgr) { return Encode(SolidImage(40, 30, bgr), ".jpg"); }

std::string ZipBytes(const std::vector<ZipEntrySpec>& entries) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("easel-zip-bytes-" + NewId(12) + ".zip");
  WriteZip(path, entries);
  std::string bytes = ReadFileBytes(path);
  std::error_code ignored;
  std::filesystem::remove(path, ignored);
  return bytes;
}

std::string HugePng() {
  std::string ihdr;
  for (const uint32_t side : {100000u, 100000u}) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      ihdr.push_back(static_cast<char>((side >> shift) & 0xFF));
    }
  }
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // depth 8, RGB, deflate, no filter, no interlace
  return std::string("\x89PNG\r\n\x1A\n", 8) + PngChunk("IHDR", ihdr) +
         PngChunk("IDAT", RawDeflate(std::string(4096, '\0'))) + PngChunk("IEND", "");
}

std::string HeicBytes() {
  return std::string("\x00\x00\x00\x18" "ftypheic\x00\x00\x00\x00" "mif1heic", 24) +
         std::string(200, '\x42');
}

std::string TruncatedJpeg() {
  const std::string whole = Encode(SolidImage(64, 64, {0, 255, 0}), ".jpg");
  return whole.substr(0, whole.size() / 2);
}

std::string NestedAndIgnoredZip() {
  return ZipBytes(
      {{.name = "photos/", .directory = true},
       {.name = "photos/a.jpg", .data = Jpeg()},
       {.name = "photos/more.zip", .data = ZipBytes({{.name = "b.jpg", .data = Jpeg()}})},
       {.name = "photos/old.tar.gz",
        .data = Gzip(TarBuilder().Add({.name = "c.jpg", .data = Jpeg()}).Finish())},
       {.name = "__MACOSX/photos/._a.jpg", .data = "resource fork"},
       {.name = ".DS_Store", .data = "ds"}});
}

std::vector<HostileCase> RefusedZipCases() {
  return {
      {"zip_bomb_ratio",
       [] {
         RawZipBuilder zip;
         zip.AddFile("ok.jpg", Jpeg());
         zip.AddFile("bomb.bin", std::string(4 << 20, '\0'), {.deflate = true});
         return zip.Finish();
       },
       absl::StatusCode::kResourceExhausted,
       {"bomb.bin", "compression ratio", "200:1"}},
      {"zip_bomb_overlapping_entries",
       [] {
         // 1000 central-directory records share one stored 64 KiB local entry: each entry's
         // own ratio is 1, the archive's is over 500.
         std::mt19937 random(7);
         std::string noise(64 << 10, '\0');
         for (char& c : noise) c = static_cast<char>(random());
         RawZipBuilder zip;
         const size_t first = zip.AddFile("overlap0000.bin", noise);
         for (int i = 1; i < 1000; ++i) zip.AddAlias(absl::StrFormat("overlap%04d.bin", i), first);
         return zip.Finish();
       },
       absl::StatusCode::kResourceExhausted,
       {"the archive exceeds the compression ratio limit", "overlap"}},
      {"zip_slip",
       [] {
         RawZipBuilder zip;
         zip.AddFile("ok.jpg", Jpeg());
         zip.AddFile("../evil.png", "x");
         return zip.Finish();
       },
       absl::StatusCode::kInvalidArgument,
       {"\"../evil.png\"", "\"..\" component"}},
      {"zip_slip_nested_dotdot",
       [] { return ZipBytes({{.name = "photos/../../evil.png", .data = "x"}}); },
       absl::StatusCode::kInvalidArgument,
       {"photos/../../evil.png"}},
      {"zip_slip_backslash",
       [] {
         RawZipBuilder zip;
         zip.AddFile("..\\..\\evil.png", "x");
         return zip.Finish();
       },
       absl::StatusCode::kInvalidArgument,
       {"..\\..\\evil.png"}},
      {"zip_slip_deep",
       [] {
         RawZipBuilder zip;
         zip.AddFile("ok.jpg", Jpeg());
         zip.AddFile(ClimbingName(kDeepSlipTarget), "x");
         return zip.Finish();
       },
       absl::StatusCode::kInvalidArgument,
       {ClimbingName(kDeepSlipTarget), "\"..\" component"}},
      {"zip_absolute_path",
       [] { return ZipBytes({{.name = kAbsolutePathTarget, .data = "x"}}); },
       absl::StatusCode::kInvalidArgument,
       {kAbsolutePathTarget, "absolute path"}},
      {"zip_drive_letter",
       [] {
         RawZipBuilder zip;
         zip.AddFile("C:\\Windows\\evil.png", "x");
         return zip.Finish();
       },
       absl::StatusCode::kInvalidArgument,
       {"absolute path"}},
      {"zip_symlink",
       [] {
         return ZipBytes({{.name = "a.jpg", .data = Jpeg(), .unix_mode = 0100644},
                          {.name = "link.png", .data = "/etc/passwd", .unix_mode = 0120777}});
       },
       absl::StatusCode::kInvalidArgument,
       {"\"link.png\"", "symlink"}},
      {"zip_fifo",
       [] {
         RawZipBuilder zip;
         zip.AddFile("pipe", "", {.unix_mode = 0010644});
         return zip.Finish();
       },
       absl::StatusCode::kInvalidArgument,
       {"\"pipe\"", "special file"}},
      {"zip_char_device",
       [] {
         RawZipBuilder zip;
         zip.AddFile("dev/null", "", {.unix_mode = 0020666});
         return zip.Finish();
       },
       absl::StatusCode::kInvalidArgument,
       {"\"dev/null\"", "special file"}},
      {"zip_encrypted_aes",
       [] { return ZipBytes({{.name = "secret.png", .data = "x", .encrypt = true}}); },
       absl::StatusCode::kInvalidArgument,
       {"\"secret.png\"", "encrypted"}},
      {"zip_encrypted_traditional",
       [] {
         RawZipBuilder zip;
         zip.AddFile("secret.jpg", std::string(12, '\x5A') + "ciphertext", {.flags = 1});
         return zip.Finish();
       },
       absl::StatusCode::kInvalidArgument,
       {"\"secret.jpg\"", "encrypted"}},
      {"zip_truncated",
       [] {
         const std::string whole = ZipBytes({{.name = "a.jpg", .data = Jpeg()},
                                             {.name = "b.jpg", .data = Jpeg()}});
         return whole.substr(0, whole.size() * 6 / 10);
       },
       absl::StatusCode::kInvalidArgument,
       {"not a readable zip archive"}},
      {"zip_truncated_to_magic",
       [] { return std::string("PK\x03\x04\x14\x00", 6); },
       absl::StatusCode::kInvalidArgument,
       {"not a readable zip archive"}},
      {"zip_bad_crc",
       [] {
         RawZipBuilder zip;
         zip.AddFile("a.jpg", Jpeg(), {.deflate = true, .crc = 0x12345678});
         return zip.Finish();
       },
       absl::StatusCode::kInvalidArgument,
       {"\"a.jpg\" is damaged", "CRC"}},
      {"zip_50000_entries",
       [] {
         RawZipBuilder zip;
         for (int i = 0; i < 50000; ++i) zip.AddFile(absl::StrFormat("f%05d.jpg", i), "");
         return zip.Finish();
       },
       absl::StatusCode::kResourceExhausted,
       {"50000 entries", "the limit is 10000"}},
      {"zip_repeated_name",
       [] {
         RawZipBuilder zip;
         zip.AddFile("a.jpg", Jpeg());
         zip.AddFile("./a.jpg", Jpeg());
         return zip.Finish();
       },
       absl::StatusCode::kInvalidArgument,
       {"more than once"}},
      {"zip_caption_row_for_missing_file",
       [] {
         return ZipBytes({{.name = "a.jpg", .data = Jpeg()},
                          {.name = "caption.csv",
                           .data = "image_file,caption\na.jpg,TOK\nmissing.jpg,TOK at the zoo\n"}});
       },
       absl::StatusCode::kInvalidArgument,
       {"row 3", "missing.jpg"}},
      {"zip_empty",
       [] { return std::string("PK\x05\x06", 4) + std::string(18, '\0'); },
       absl::StatusCode::kInvalidArgument,
       {"contains no images", "holds no files besides those ignored"}},
      {"zip_only_ignored_entries",
       [] {
         return ZipBytes({{.name = "__MACOSX/._a.jpg", .data = "m"},
                          {.name = ".hidden.jpg", .data = Jpeg()},
                          {.name = "inner.zip",
                           .data = ZipBytes({{.name = "a.jpg", .data = Jpeg()}})}});
       },
       absl::StatusCode::kInvalidArgument,
       {"contains no images", "holds no files besides those ignored"}},
      {"not_an_archive",
       [] { return Encode(SolidImage(8, 8, {0, 0, 0}), ".png"); },
       absl::StatusCode::kInvalidArgument,
       {"is not a zip or tar archive"}},
  };
}

}  // namespace easel::preprocess::testing
