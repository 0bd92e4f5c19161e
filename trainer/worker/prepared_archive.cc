#include "trainer/worker/prepared_archive.h"

#include <zip.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "preprocess/ingest/archive_reader.h"

namespace easel::worker {
namespace {

namespace fs = std::filesystem;

// 2000-01-01T00:00:00Z: a fixed, DOS-representable entry time.
constexpr time_t kEntryTime = 946684800;

// A prepared dataset holds an image and a mask per source image, plus the manifest.
preprocess::ArchiveLimits PreparedLimits() {
  preprocess::ArchiveLimits limits;
  limits.max_entries = 3 * limits.max_entries + 16;
  limits.max_total_bytes = int64_t{8} << 30;
  return limits;
}

absl::Status ZipError(zip_t* archive, const fs::path& zip, const char* what) {
  return absl::InternalError(
      absl::StrCat("packing ", zip.string(), ": ", what, ": ", zip_strerror(archive)));
}

// Extracts `zip` into `dir` through the archive ingest's checks; the archive must hold
// `required` at its top level.
absl::Status Unpack(const fs::path& zip, const fs::path& dir,
                    const preprocess::ArchiveLimits& limits, const std::string& required,
                    const char* what) {
  absl::StatusOr<preprocess::ArchiveContents> contents = preprocess::ReadArchive(zip, limits);
  if (!contents.ok()) {
    return absl::Status(contents.status().code(),
                        absl::StrCat(what, ": ", contents.status().message()));
  }
  bool has_required = false;
  for (const preprocess::ArchiveFile& file : contents->files) {
    has_required = has_required || file.name == required;
    const fs::path path = dir / fs::path(file.name);
    std::error_code error;
    fs::create_directories(path.parent_path(), error);
    if (error)
      return absl::InternalError(absl::StrCat("cannot create ", path.parent_path().string()));
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(file.data.data(), static_cast<std::streamsize>(file.data.size()));
    out.close();
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  }
  if (!has_required) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": the archive holds no ", required));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status PackDirectory(const fs::path& dir, const fs::path& zip) {
  std::vector<std::string> files;
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(dir, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (it->is_regular_file()) files.push_back(fs::relative(it->path(), dir).generic_string());
  }
  if (error)
    return absl::InternalError(absl::StrCat("listing ", dir.string(), ": ", error.message()));
  std::sort(files.begin(), files.end());

  int open_error = 0;
  zip_t* archive = zip_open(zip.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &open_error);
  if (archive == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot create ", zip.string(), " (libzip error ", open_error, ")"));
  }
  for (const std::string& name : files) {
    zip_source_t* source = zip_source_file(archive, (dir / name).c_str(), 0, -1);
    if (source == nullptr) {
      absl::Status status = ZipError(archive, zip, name.c_str());
      zip_discard(archive);
      return status;
    }
    const zip_int64_t index = zip_file_add(archive, name.c_str(), source, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      zip_source_free(source);
      absl::Status status = ZipError(archive, zip, name.c_str());
      zip_discard(archive);
      return status;
    }
    if (zip_set_file_compression(archive, index, ZIP_CM_STORE, 0) < 0 ||
        zip_file_set_mtime(archive, index, kEntryTime, 0) < 0) {
      absl::Status status = ZipError(archive, zip, name.c_str());
      zip_discard(archive);
      return status;
    }
  }
  if (zip_close(archive) < 0) {
    absl::Status status = ZipError(archive, zip, "writing");
    zip_discard(archive);
    return status;
  }
  return absl::OkStatus();
}

absl::Status UnpackPreparedDataset(const fs::path& zip, const fs::path& dir) {
  return Unpack(zip, dir, PreparedLimits(), "manifest.json", "prepared dataset");
}

absl::Status UnpackCheckpoint(const fs::path& zip, const fs::path& dir) {
  preprocess::ArchiveLimits limits;
  limits.max_total_bytes = int64_t{64} << 30;
  limits.max_file_bytes = limits.max_total_bytes;
  return Unpack(zip, dir, limits, "COMPLETE", "checkpoint");
}

}  // namespace easel::worker
