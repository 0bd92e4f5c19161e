#ifndef EASEL_COORDINATOR_BLOBS_UPLOAD_STORE_H_
#define EASEL_COORDINATOR_BLOBS_UPLOAD_STORE_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "coordinator/blobs/blob_store.h"
#include "coordinator/store/database.h"
#include "easel/v1/datasets.pb.h"
#include "easel/v1/resources.pb.h"

namespace easel::coordinator {

inline constexpr int64_t kMaxUploadBytes = int64_t{2} << 30;

// Next chunk of a stream; nullopt at its end.
using ChunkSource = std::function<absl::StatusOr<std::optional<v1::UploadChunk>>()>;

// Resumable dataset uploads: bytes land in DIR/uploads/<upload_id>.part and the committed
// offset is recorded in the store, so a new stream with the same upload_id resumes.
class UploadStore {
 public:
  UploadStore(Database& database, BlobStore& blobs, std::filesystem::path uploads_dir);

  // Receives one stream. Returns the dataset once every byte is in and verified; an
  // incomplete stream ends in FAILED_PRECONDITION naming the committed offset. An upload
  // belongs to `owner` (whoever started it): another owner's upload_id is ALREADY_EXISTS.
  absl::StatusOr<v1::Dataset> Receive(const v1::UploadHeader& header, std::string_view owner,
                                      const ChunkSource& next);
  // NOT_FOUND unless `owner` started the upload.
  absl::StatusOr<v1::Upload> GetUpload(std::string_view upload_id, std::string_view owner);

 private:
  absl::StatusOr<int64_t> Begin(const v1::UploadHeader& header, std::string_view owner,
                                std::optional<v1::Dataset>* done);
  absl::Status RecordOffset(const std::string& upload_id, int64_t offset);
  absl::StatusOr<v1::Dataset> Finish(const v1::UploadHeader& header);
  void Discard(const std::string& upload_id);
  std::filesystem::path PartPath(const std::string& upload_id) const;

  Database& database_;
  BlobStore& blobs_;
  std::filesystem::path uploads_dir_;
  std::mutex active_mutex_;
  std::set<std::string> active_;
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_BLOBS_UPLOAD_STORE_H_
