#include "preprocess/ingest/archive_reader.h"

#include <fstream>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "preprocess/ingest/archive_format.h"
#include "preprocess/ingest/byte_source.h"
#include "preprocess/ingest/tar_archive.h"
#include "preprocess/ingest/zip_archive.h"

namespace easel::preprocess {
namespace {

absl::Status UnsupportedFormat(const std::string& what, ArchiveFormat format) {
  if (format == ArchiveFormat::kUnknown) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " is not a zip or tar archive; upload a zip, a tar or a gzip-compressed tar"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(what, " is ", ArchiveFormatName(format),
                   "-compressed or archived, which is not supported; upload a zip, a tar or a "
                   "gzip-compressed tar"));
}

absl::StatusOr<ArchiveContents> ReadTarFrom(ByteSource& source, ArchiveFormat format,
                                            const ArchiveLimits& limits) {
  if (format == ArchiveFormat::kGzip) {
    GzipByteSource inflated(source);
    return ReadTarArchive(inflated, limits, /*compressed=*/true);
  }
  return ReadTarArchive(source, limits, /*compressed=*/false);
}

}  // namespace

absl::StatusOr<ArchiveContents> ReadArchive(const std::filesystem::path& path,
                                            const ArchiveLimits& limits) {
  try {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot open archive ", path.string()));
    std::string leading(kArchiveMagicBytes, '\0');
    in.read(leading.data(), static_cast<std::streamsize>(leading.size()));
    leading.resize(static_cast<size_t>(in.gcount()));
    in.close();
    const ArchiveFormat format = DetectArchiveFormat(leading);
    switch (format) {
      case ArchiveFormat::kZip:
        return ReadZipArchive(path, limits);
      case ArchiveFormat::kTar:
      case ArchiveFormat::kGzip: {
        EASEL_ASSIGN_OR_RETURN(std::unique_ptr<FileByteSource> file, FileByteSource::Open(path));
        return ReadTarFrom(*file, format, limits);
      }
      default:
        return UnsupportedFormat(path.filename().string(), format);
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("reading ", path.string(), ": ", e.what()));
  }
}

absl::StatusOr<ArchiveContents> ReadArchiveFromMemory(std::string_view bytes,
                                                      const ArchiveLimits& limits) {
  const ArchiveFormat format = DetectArchiveFormat(bytes.substr(0, kArchiveMagicBytes));
  switch (format) {
    case ArchiveFormat::kZip:
      return ReadZipArchiveFromMemory(bytes, limits);
    case ArchiveFormat::kTar:
    case ArchiveFormat::kGzip: {
      MemoryByteSource source(bytes);
      return ReadTarFrom(source, format, limits);
    }
    default:
      return UnsupportedFormat("the data", format);
  }
}

}  // namespace easel::preprocess
