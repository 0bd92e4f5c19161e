#include "preprocess/ingest/archive_format.h"

#include <algorithm>

namespace easel::preprocess {
namespace {

constexpr size_t kTarBlock = 512;
constexpr size_t kTarMagicOffset = 257;

bool AllZero(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == '\0'; });
}

}  // namespace

ArchiveFormat DetectArchiveFormat(std::string_view bytes) {
  using namespace std::string_view_literals;
  if (bytes.starts_with("PK\x03\x04"sv) || bytes.starts_with("PK\x05\x06"sv) ||
      bytes.starts_with("PK\x07\x08"sv)) {
    return ArchiveFormat::kZip;
  }
  if (bytes.starts_with("\x1F\x8B"sv)) return ArchiveFormat::kGzip;
  if (bytes.starts_with("BZh"sv)) return ArchiveFormat::kBzip2;
  if (bytes.starts_with("\xFD" "7zXZ\0"sv)) return ArchiveFormat::kXz;
  if (bytes.starts_with("\x28\xB5\x2F\xFD"sv)) return ArchiveFormat::kZstd;
  if (bytes.starts_with("7z\xBC\xAF\x27\x1C"sv)) return ArchiveFormat::kSevenZip;
  if (bytes.starts_with("Rar!\x1A\x07"sv)) return ArchiveFormat::kRar;
  if (bytes.size() >= kTarBlock && bytes.substr(kTarMagicOffset, 5) == "ustar"sv) {
    return ArchiveFormat::kTar;
  }
  if (bytes.size() >= 2 * kTarBlock && AllZero(bytes.substr(0, 2 * kTarBlock))) {
    return ArchiveFormat::kTar;
  }
  return ArchiveFormat::kUnknown;
}

const char* ArchiveFormatName(ArchiveFormat format) {
  switch (format) {
    case ArchiveFormat::kZip: return "zip";
    case ArchiveFormat::kTar: return "tar";
    case ArchiveFormat::kGzip: return "gzip";
    case ArchiveFormat::kBzip2: return "bzip2";
    case ArchiveFormat::kXz: return "xz";
    case ArchiveFormat::kZstd: return "zstd";
    case ArchiveFormat::kSevenZip: return "7z";
    case ArchiveFormat::kRar: return "RAR";
    case ArchiveFormat::kUnknown: break;
  }
  return "unknown";
}

}  // namespace easel::preprocess
