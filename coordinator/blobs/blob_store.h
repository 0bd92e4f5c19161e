#ifndef EASEL_COORDINATOR_BLOBS_BLOB_STORE_H_
#define EASEL_COORDINATOR_BLOBS_BLOB_STORE_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace easel::coordinator {

// Content-addressed files under DIR/blobs/sha256/ab/<sha256>. Blobs arrive as temp files
// (under DIR/tmp) that are verified, fsynced and renamed into place.
class BlobStore {
 public:
  static absl::StatusOr<std::unique_ptr<BlobStore>> Open(const std::filesystem::path& data_dir);

  std::filesystem::path PathFor(std::string_view sha256) const;
  bool Contains(std::string_view sha256) const;
  // NOT_FOUND for an unknown blob; INVALID_ARGUMENT for a malformed digest.
  absl::StatusOr<int64_t> Size(std::string_view sha256) const;

  absl::StatusOr<std::string> Put(std::string_view bytes);
  // Moves `file` into the store when its digest equals `expected_sha256`, else deletes it and
  // returns INVALID_ARGUMENT "checksum mismatch: expected X, got Y".
  absl::Status PutFile(const std::filesystem::path& file, std::string_view expected_sha256);
  // Moves `file` into the store under `sha256`, which the caller has just computed.
  absl::Status AdoptVerifiedFile(const std::filesystem::path& file, std::string_view sha256);
  // Rehashes the stored blob; DATA_LOSS when it no longer matches its name.
  absl::Status Verify(std::string_view sha256) const;

  // A fresh path in the store's temp folder (same filesystem as the blobs).
  std::filesystem::path NewTempPath() const;

 private:
  explicit BlobStore(std::filesystem::path data_dir) : data_dir_(std::move(data_dir)) {}

  std::filesystem::path data_dir_;
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_BLOBS_BLOB_STORE_H_
