#ifndef EASEL_COORDINATOR_BLOBS_DURABLE_FILE_H_
#define EASEL_COORDINATOR_BLOBS_DURABLE_FILE_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace easel::coordinator {

// A file opened for appending with explicit fsync.
class AppendFile {
 public:
  // Opens (creating) `path` and truncates it to `size` bytes, so bytes past a committed offset
  // left by an interrupted writer are dropped.
  static absl::StatusOr<std::unique_ptr<AppendFile>> Open(const std::filesystem::path& path,
                                                          int64_t size);
  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  absl::Status Append(std::string_view data);
  absl::Status Sync();
  int64_t size() const { return size_; }

 private:
  AppendFile(std::filesystem::path path, int fd, int64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}

  std::filesystem::path path_;
  int fd_;
  int64_t size_;
};

// fsyncs a directory, so a rename or create inside it is durable.
absl::Status SyncDirectory(const std::filesystem::path& dir);

// Renames `from` to `to` durably (fsyncs the file first, then the target directory).
absl::Status DurableRename(const std::filesystem::path& from, const std::filesystem::path& to);

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_BLOBS_DURABLE_FILE_H_
