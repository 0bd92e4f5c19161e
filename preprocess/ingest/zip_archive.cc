#include "preprocess/ingest/zip_archive.h"

#include <zip.h>

#include <array>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "preprocess/ingest/entry_path.h"

namespace easel::preprocess {
namespace {

constexpr uint32_t kUnixFileTypeMask = 0170000;
constexpr uint32_t kUnixRegularFile = 0100000;
constexpr uint32_t kUnixDirectory = 0040000;
constexpr uint32_t kUnixSymlink = 0120000;

struct ZipCloser {
  void operator()(zip_t* archive) const { zip_discard(archive); }
};
using ZipHandle = std::unique_ptr<zip_t, ZipCloser>;

struct ZipFileCloser {
  void operator()(zip_file_t* file) const { zip_fclose(file); }
};
using ZipFileHandle = std::unique_ptr<zip_file_t, ZipFileCloser>;

std::string Quoted(absl::string_view name) { return absl::StrCat("\"", name, "\""); }

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
                                       absl::string_view name) {
  zip_uint8_t opsys = 0;
  zip_uint32_t attributes = 0;
  if (zip_file_get_external_attributes(archive, index, 0, &opsys, &attributes) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the attributes of archive entry ", Quoted(name)));
  }
  if (opsys != ZIP_OPSYS_UNIX) return false;
  const uint32_t mode = attributes >> 16;
  const uint32_t type = mode & kUnixFileTypeMask;
  if (type == kUnixSymlink) {
    return absl::InvalidArgumentError(
        absl::StrCat("archive entry ", Quoted(name), " is a symlink; symlinks are not allowed"));
  }
  if (type == kUnixDirectory) return true;
  if (type != 0 && type != kUnixRegularFile) {
    return absl::InvalidArgumentError(absl::StrCat(
        "archive entry ", Quoted(name), " is a special file; only regular files are allowed"));
  }
  return false;
}

absl::Status CheckNotEncrypted(zip_t* archive, zip_uint64_t index, absl::string_view name) {
  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_stat_index(archive, index, 0, &stat) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read archive entry ", Quoted(name), ": ",
                     zip_error_strerror(zip_get_error(archive))));
  }
  if ((stat.valid & ZIP_STAT_ENCRYPTION_METHOD) && stat.encryption_method != ZIP_EM_NONE) {
    return absl::InvalidArgumentError(absl::StrCat(
        "archive entry ", Quoted(name), " is encrypted; upload an archive without a password"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadEntry(zip_t* archive, zip_uint64_t index, absl::string_view name,
                                      const ArchiveLimits& limits, int64_t& total_bytes) {
  ZipFileHandle file(zip_fopen_index(archive, index, 0));
  if (file == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot open archive entry ", Quoted(name),
                                                   ": ", zip_error_strerror(zip_get_error(archive))));
  }
  std::string data;
  std::array<char, 64 * 1024> buffer;
  while (true) {
    const zip_int64_t n = zip_fread(file.get(), buffer.data(), buffer.size());
    if (n < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("archive entry ", Quoted(name), " is damaged: ",
                       zip_error_strerror(zip_file_get_error(file.get()))));
    }
    if (n == 0) break;
    total_bytes += n;
    if (static_cast<int64_t>(data.size()) + n > limits.max_file_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("archive entry ", Quoted(name), " inflates to more than ",
                       limits.max_file_bytes, " bytes, the limit per file"));
    }
    if (total_bytes > limits.max_total_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("the archive inflates to more than ", limits.max_total_bytes,
                       " bytes in all (limit reached at entry ", Quoted(name), ")"));
    }
    data.append(buffer.data(), static_cast<size_t>(n));
  }
  return data;
}

absl::StatusOr<ArchiveContents> ReadOpenZip(zip_t* archive, const ArchiveLimits& limits) {
  const zip_int64_t entry_count = zip_get_num_entries(archive, 0);
  if (entry_count < 0) return absl::InvalidArgumentError("cannot list the archive's entries");
  if (entry_count > limits.max_entries) {
    return absl::ResourceExhaustedError(absl::StrCat("the archive has ", entry_count,
                                                     " entries; the limit is ", limits.max_entries));
  }
  ArchiveContents contents;
  int64_t total_bytes = 0;
  for (zip_int64_t i = 0; i < entry_count; ++i) {
    const auto index = static_cast<zip_uint64_t>(i);
    const char* raw_name = zip_get_name(archive, index, ZIP_FL_ENC_GUESS);
    if (raw_name == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("archive entry #", i, " has no name"));
    }
    EASEL_ASSIGN_OR_RETURN(std::string name, NormalizeEntryPath(raw_name));
    EASEL_ASSIGN_OR_RETURN(const bool is_directory, IsDirectoryByMode(archive, index, raw_name));
    if (is_directory && name.back() != '/') name.push_back('/');
    if (std::optional<std::string> reason = IgnoreReason(name)) {
      contents.ignored.push_back({std::move(name), std::move(*reason)});
      continue;
    }
    EASEL_RETURN_IF_ERROR(CheckNotEncrypted(archive, index, raw_name));
    EASEL_ASSIGN_OR_RETURN(std::string data,
                           ReadEntry(archive, index, raw_name, limits, total_bytes));
    contents.files.push_back({std::move(name), std::move(data)});
  }
  return contents;
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
    int error_code = 0;
    ZipHandle archive(zip_open(path.c_str(), ZIP_RDONLY, &error_code));
    if (archive == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(path.filename().string(),
                                                     " is not a readable zip archive: ",
                                                     LibzipErrorMessage(error_code)));
    }
    return ReadOpenZip(archive.get(), limits);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("reading ", path.string(), ": ", e.what()));
  }
}

}  // namespace easel::preprocess
