#include "preprocess/staging_directory.h"

#include <fstream>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/ids.h"

namespace easel::preprocess {
namespace fs = std::filesystem;
namespace {

absl::Status CheckDestinationFree(const fs::path& destination) {
  std::error_code error;
  const fs::file_status status = fs::symlink_status(destination, error);
  if (!fs::exists(status)) return absl::OkStatus();
  if (fs::is_directory(status) && fs::is_empty(destination, error) && !error) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "output ", destination.string(), " already exists and is not an empty directory"));
}

}  // namespace

absl::StatusOr<StagingDirectory> StagingDirectory::Create(const fs::path& destination) {
  std::error_code error;
  fs::path target = fs::absolute(destination, error).lexically_normal();
  if (error) return absl::InternalError(absl::StrCat("bad output path ", destination.string()));
  if (!target.has_filename()) target = target.parent_path();
  if (auto status = CheckDestinationFree(target); !status.ok()) return status;
  fs::create_directories(target.parent_path(), error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot create ", target.parent_path().string(), ": ",
                                            error.message()));
  }
  fs::path staging =
      target.parent_path() / absl::StrCat(".", target.filename().string(), ".tmp-", NewId(10));
  if (!fs::create_directory(staging, error) || error) {
    return absl::InternalError(
        absl::StrCat("cannot create ", staging.string(), ": ", error.message()));
  }
  return StagingDirectory(std::move(staging), std::move(target));
}

StagingDirectory::StagingDirectory(StagingDirectory&& other) noexcept
    : staging_(std::move(other.staging_)),
      destination_(std::move(other.destination_)),
      committed_(std::exchange(other.committed_, true)) {}

StagingDirectory::~StagingDirectory() {
  if (committed_ || staging_.empty()) return;
  std::error_code ignored;
  fs::remove_all(staging_, ignored);
}

absl::Status StagingDirectory::WriteFile(const fs::path& relative, std::string_view contents) {
  const fs::path path = staging_ / relative;
  std::error_code error;
  fs::create_directories(path.parent_path(), error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create ", path.parent_path().string(), ": ", error.message()));
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

absl::Status StagingDirectory::Commit() {
  if (committed_) return absl::FailedPreconditionError("staging directory already committed");
  if (auto status = CheckDestinationFree(destination_); !status.ok()) return status;
  std::error_code error;
  fs::remove(destination_, error);  // an empty directory, or nothing
  fs::rename(staging_, destination_, error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot move ", staging_.string(), " to ",
                                            destination_.string(), ": ", error.message()));
  }
  committed_ = true;
  return absl::OkStatus();
}

}  // namespace easel::preprocess
