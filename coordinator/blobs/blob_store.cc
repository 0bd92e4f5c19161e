#include "coordinator/blobs/blob_store.h"

#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "coordinator/blobs/durable_file.h"

namespace easel::coordinator {
namespace {

absl::Status CheckDigest(std::string_view sha256) {
  if (!IsSha256Hex(sha256)) {
    return absl::InvalidArgumentError(
        absl::StrCat("sha256 '", std::string(sha256), "' is not 64 lowercase hex characters"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<BlobStore>> BlobStore::Open(const std::filesystem::path& data_dir) {
  std::error_code error;
  for (const char* sub : {"blobs/sha256", "tmp"}) {
    std::filesystem::create_directories(data_dir / sub, error);
    if (error) {
      return absl::UnavailableError(absl::StrCat("cannot create ", (data_dir / sub).string(),
                                                 ": ", error.message()));
    }
  }
  return std::unique_ptr<BlobStore>(new BlobStore(data_dir));
}

std::filesystem::path BlobStore::PathFor(std::string_view sha256) const {
  std::string digest(sha256);
  return data_dir_ / "blobs" / "sha256" / digest.substr(0, 2) / digest;
}

bool BlobStore::Contains(std::string_view sha256) const {
  if (!IsSha256Hex(sha256)) return false;
  std::error_code error;
  return std::filesystem::is_regular_file(PathFor(sha256), error);
}

absl::StatusOr<int64_t> BlobStore::Size(std::string_view sha256) const {
  EASEL_RETURN_IF_ERROR(CheckDigest(sha256));
  std::error_code error;
  auto size = std::filesystem::file_size(PathFor(sha256), error);
  if (error) return absl::NotFoundError(absl::StrCat("blob ", std::string(sha256), " not found"));
  return static_cast<int64_t>(size);
}

std::filesystem::path BlobStore::NewTempPath() const {
  return data_dir_ / "tmp" / absl::StrCat(NewId(), ".tmp");
}

absl::StatusOr<std::string> BlobStore::Put(std::string_view bytes) {
  std::string digest = Sha256Hex(bytes);
  if (Contains(digest)) return digest;
  std::filesystem::path temp = NewTempPath();
  {
    EASEL_ASSIGN_OR_RETURN(std::unique_ptr<AppendFile> file, AppendFile::Open(temp, 0));
    EASEL_RETURN_IF_ERROR(file->Append(bytes));
  }
  EASEL_RETURN_IF_ERROR(PutFile(temp, digest));
  return digest;
}

absl::Status BlobStore::PutFile(const std::filesystem::path& file,
                                std::string_view expected_sha256) {
  std::error_code error;
  absl::Status status = CheckDigest(expected_sha256);
  if (status.ok()) {
    absl::StatusOr<std::string> actual = Sha256OfFile(file);
    if (!actual.ok()) {
      status = actual.status();
    } else if (*actual != expected_sha256) {
      status = absl::InvalidArgumentError(
          absl::StrCat("checksum mismatch: expected ", std::string(expected_sha256), ", got ", *actual));
    }
  }
  if (!status.ok()) {
    std::filesystem::remove(file, error);
    return status;
  }
  return AdoptVerifiedFile(file, expected_sha256);
}

absl::Status BlobStore::AdoptVerifiedFile(const std::filesystem::path& file,
                                          std::string_view sha256) {
  EASEL_RETURN_IF_ERROR(CheckDigest(sha256));
  std::error_code error;
  std::filesystem::path target = PathFor(sha256);
  if (std::filesystem::is_regular_file(target, error)) {
    std::filesystem::remove(file, error);
    return absl::OkStatus();
  }
  std::filesystem::create_directories(target.parent_path(), error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot create ", target.parent_path().string(), ": ",
                                            error.message()));
  }
  EASEL_RETURN_IF_ERROR(SyncDirectory(target.parent_path().parent_path()));
  return DurableRename(file, target);
}

absl::Status BlobStore::Verify(std::string_view sha256) const {
  EASEL_RETURN_IF_ERROR(CheckDigest(sha256));
  if (!Contains(sha256)) return absl::NotFoundError(absl::StrCat("blob ", std::string(sha256), " not found"));
  EASEL_ASSIGN_OR_RETURN(std::string actual, Sha256OfFile(PathFor(sha256)));
  if (actual != sha256) {
    return absl::DataLossError(
        absl::StrCat("blob ", std::string(sha256), " is corrupt: its content hashes to ", actual));
  }
  return absl::OkStatus();
}

}  // namespace easel::coordinator
