#include "preprocess/ingest/zip_archive.h"

#include <zip.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "preprocess/ingest/archive_collector.h"
#include "preprocess/ingest/entry_path.h"

namespace easel::preprocess {
namespace {

constexpr uint32_t kUnixFileTypeMask = 0170000;
constexpr uint32_t kUnixRegularFile = 0100000;
constexpr uint32_t kUnixDirectory = 0040000;
constexpr uint32_t kUnixSymlink = 0120000;
constexpr size_t kReadChunkBytes = 64 * 1024;

struct ZipCloser {
  void operator()(zip_t* archive) const { zip_discard(archive); }
};
using ZipHandle = std::unique_ptr<zip_t, ZipCloser>;

struct ZipFileCloser {
  void operator()(zip_file_t* file) const { zip_fclose(file); }
};
using ZipFileHandle = std::unique_ptr<zip_file_t, ZipFileCloser>;

std::string LibzipErrorMessage(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string message = zip_error_strerror(&error);
  zip_error_fini(&error);
  return message;
}

absl::Status CheckMagic(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot open archive ", path.string()));
  }
  std::array<char, 4> magic{};
  in.read(magic.data(), magic.size());
  if (!LooksLikeZip(std::string_view(magic.data(), static_cast<size_t>(in.gcount())))) {
    return absl::InvalidArgumentError(
        absl::StrCat(path.filename().string(), " is not a zip archive"));
  }
  return absl::OkStatus();
}

// Rejects symlinks and other special files recorded with Unix modes; reports directories.
absl::StatusOr<bool> IsDirectoryByMode(zip_t* archive, zip_uint64_t index,
                                       std::string_view raw_name) {
  zip_uint8_t opsys = 0;
  zip_uint32_t attributes = 0;
  if (zip_file_get_external_attributes(archive, index, 0, &opsys, &attributes) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the attributes of archive entry ", QuoteEntryName(raw_name)));
  }
  if (opsys != ZIP_OPSYS_UNIX) return false;
  const uint32_t mode = attributes >> 16;
  const uint32_t type = mode & kUnixFileTypeMask;
  if (type == kUnixSymlink) {
    return absl::InvalidArgumentError(absl::StrCat(
        "archive entry ", QuoteEntryName(raw_name), " is a symlink; symlinks are not allowed"));
  }
  if (type == kUnixDirectory) return true;
  if (type != 0 && type != kUnixRegularFile) {
    return absl::InvalidArgumentError(absl::StrCat(
        "archive entry ", QuoteEntryName(raw_name),
        " is a special file (device, FIFO or socket); only regular files are allowed"));
  }
  return false;
}

// The entry's compressed size as the central directory declares it, no more than the whole
// archive; -1 when unknown.
absl::StatusOr<int64_t> CheckNotEncryptedAndGetCompressedSize(zip_t* archive, zip_uint64_t index,
                                                              std::string_view raw_name,
                                                              int64_t archive_bytes) {
  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_stat_index(archive, index, 0, &stat) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read archive entry ", QuoteEntryName(raw_name), ": ",
                     zip_error_strerror(zip_get_error(archive))));
  }
  if ((stat.valid & ZIP_STAT_ENCRYPTION_METHOD) && stat.encryption_method != ZIP_EM_NONE) {
    return absl::InvalidArgumentError(
        absl::StrCat("archive entry ", QuoteEntryName(raw_name),
                     " is encrypted; upload an archive without a password"));
  }
  if (!(stat.valid & ZIP_STAT_COMP_SIZE)) return -1;
  return static_cast<int64_t>(
      std::min<zip_uint64_t>(stat.comp_size, static_cast<zip_uint64_t>(archive_bytes)));
}

absl::StatusOr<std::string> ReadEntry(zip_t* archive, zip_uint64_t index, std::string_view name,
                                      int64_t compressed_bytes, int64_t archive_bytes,
                                      ArchiveCollector& collector) {
  ZipFileHandle file(zip_fopen_index(archive, index, 0));
  if (file == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot open archive entry ",
                                                   QuoteEntryName(name), ": ",
                                                   zip_error_strerror(zip_get_error(archive))));
  }
  std::string data;
  std::array<char, kReadChunkBytes> buffer;
  while (true) {
    const zip_int64_t n = zip_fread(file.get(), buffer.data(), buffer.size());
    if (n < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("archive entry ", QuoteEntryName(name), " is damaged: ",
                       zip_error_strerror(zip_file_get_error(file.get()))));
    }
    if (n == 0) break;
    EASEL_RETURN_IF_ERROR(collector.AddInflatedBytes(
        name, n, static_cast<int64_t>(data.size()) + n, compressed_bytes));
    EASEL_RETURN_IF_ERROR(
        collector.CheckArchiveRatio(name, collector.total_bytes(), archive_bytes));
    data.append(buffer.data(), static_cast<size_t>(n));
  }
  return data;
}

absl::StatusOr<ArchiveContents> ReadOpenZip(zip_t* archive, int64_t archive_bytes,
                                            const ArchiveLimits& limits) {
  const zip_int64_t entry_count = zip_get_num_entries(archive, 0);
  if (entry_count < 0) return absl::InvalidArgumentError("cannot list the archive's entries");
  if (entry_count > limits.max_entries) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the archive has ", entry_count, " entries; the limit is ", limits.max_entries));
  }
  ArchiveCollector collector(limits);
  for (zip_int64_t i = 0; i < entry_count; ++i) {
    EASEL_RETURN_IF_ERROR(collector.CountEntry());
    const auto index = static_cast<zip_uint64_t>(i);
    const char* raw_name = zip_get_name(archive, index, ZIP_FL_ENC_GUESS);
    if (raw_name == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("archive entry #", i, " has no name"));
    }
    EASEL_ASSIGN_OR_RETURN(const bool is_directory, IsDirectoryByMode(archive, index, raw_name));
    EASEL_ASSIGN_OR_RETURN(
        const int64_t compressed_bytes,
        CheckNotEncryptedAndGetCompressedSize(archive, index, raw_name, archive_bytes));
    EASEL_ASSIGN_OR_RETURN(std::optional<std::string> name,
                           collector.Admit(raw_name, is_directory));
    if (!name) continue;
    EASEL_ASSIGN_OR_RETURN(
        std::string data,
        ReadEntry(archive, index, *name, compressed_bytes, archive_bytes, collector));
    collector.AddFile(std::move(*name), std::move(data));
  }
  return std::move(collector).Take();
}

}  // namespace

bool LooksLikeZip(std::string_view leading_bytes) {
  return leading_bytes.starts_with(std::string_view("PK\x03\x04", 4)) ||
         leading_bytes.starts_with(std::string_view("PK\x05\x06", 4));
}

absl::StatusOr<ArchiveContents> ReadZipArchive(const std::filesystem::path& path,
                                               const ArchiveLimits& limits) {
  try {
    EASEL_RETURN_IF_ERROR(CheckMagic(path));
    std::error_code size_error;
    const auto archive_bytes = static_cast<int64_t>(std::filesystem::file_size(path, size_error));
    if (size_error) {
      return absl::NotFoundError(
          absl::StrCat("cannot read the size of ", path.string(), ": ", size_error.message()));
    }
    int error_code = 0;
    ZipHandle archive(zip_open(path.c_str(), ZIP_RDONLY, &error_code));
    if (archive == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(path.filename().string(),
                       " is not a readable zip archive (damaged or truncated?): ",
                       LibzipErrorMessage(error_code)));
    }
    return ReadOpenZip(archive.get(), archive_bytes, limits);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("reading ", path.string(), ": ", e.what()));
  }
}

absl::StatusOr<ArchiveContents> ReadZipArchiveFromMemory(std::string_view bytes,
                                                         const ArchiveLimits& limits) {
  try {
    if (!LooksLikeZip(bytes)) return absl::InvalidArgumentError("the data is not a zip archive");
    zip_error_t error;
    zip_error_init(&error);
    zip_source_t* source = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
    if (source == nullptr) {
      std::string message = zip_error_strerror(&error);
      zip_error_fini(&error);
      return absl::InternalError(absl::StrCat("cannot read the zip from memory: ", message));
    }
    ZipHandle archive(zip_open_from_source(source, ZIP_RDONLY, &error));
    if (archive == nullptr) {
      zip_source_free(source);
      std::string message = zip_error_strerror(&error);
      zip_error_fini(&error);
      return absl::InvalidArgumentError(absl::StrCat(
          "the data is not a readable zip archive (damaged or truncated?): ", message));
    }
    zip_error_fini(&error);
    return ReadOpenZip(archive.get(), static_cast<int64_t>(bytes.size()), limits);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("reading a zip from memory: ", e.what()));
  }
}

}  // namespace easel::preprocess
