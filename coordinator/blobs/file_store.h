#ifndef EASEL_COORDINATOR_BLOBS_FILE_STORE_H_
#define EASEL_COORDINATOR_BLOBS_FILE_STORE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "coordinator/auth/principal.h"
#include "coordinator/blobs/blob_store.h"
#include "coordinator/store/database.h"

namespace easel::coordinator {

// Files are at most this big (the HTTP API holds a file in memory while it arrives).
inline constexpr int64_t kMaxFileBytes = int64_t{1} << 30;

// A file uploaded through the HTTP API (POST /v1/files), as Replicate's files API has them.
struct StoredFile {
  std::string id;
  std::string name;
  std::string content_type;
  int64_t size = 0;
  std::string sha256;
  std::string metadata_json = "{}";
  int64_t create_us = 0;
};

struct NewFile {
  std::string name;
  std::string content_type;
  std::string metadata_json = "{}";
};

// Files: their bytes in the blob store, their record in the `files` table. Every file is
// also recorded as a dataset the uploading owners may train on (input_images), so a zip
// uploaded as a file is a dataset.
class FileStore {
 public:
  FileStore(Database& database, BlobStore& blobs) : database_(database), blobs_(blobs) {}

  absl::StatusOr<StoredFile> Create(const Principal& caller, const NewFile& file,
                                    std::string_view bytes);
  // NOT_FOUND unless the caller acts for an owner that uploaded it.
  absl::StatusOr<StoredFile> Get(const Principal& caller, std::string_view id);
  // The caller's files, newest first: at most `limit`, older than `before_us` when non-zero.
  absl::StatusOr<std::vector<StoredFile>> List(const Principal& caller, int limit,
                                               int64_t before_us);
  absl::Status Delete(const Principal& caller, std::string_view id);

 private:
  Database& database_;
  BlobStore& blobs_;
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_BLOBS_FILE_STORE_H_
