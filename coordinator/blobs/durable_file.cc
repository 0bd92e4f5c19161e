#include "coordinator/blobs/durable_file.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace easel::coordinator {
namespace {

absl::Status ErrnoError(std::string_view what, const std::filesystem::path& path) {
  return absl::InternalError(absl::StrCat(std::string(what), " ", path.string(), ": ", std::strerror(errno)));
}

absl::Status SyncPath(const std::filesystem::path& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return ErrnoError("cannot fsync", path);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<AppendFile>> AppendFile::Open(const std::filesystem::path& path,
                                                             int64_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot open", path);
  if (::ftruncate(fd, size) != 0 || ::lseek(fd, size, SEEK_SET) < 0) {
    absl::Status status = ErrnoError("cannot truncate", path);
    ::close(fd);
    return status;
  }
  return std::unique_ptr<AppendFile>(new AppendFile(path, fd, size));
}

AppendFile::~AppendFile() { ::close(fd_); }

absl::Status AppendFile::Append(std::string_view data) {
  while (!data.empty()) {
    ssize_t written = ::write(fd_, data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", path_);
    }
    data.remove_prefix(static_cast<size_t>(written));
    size_ += written;
  }
  return absl::OkStatus();
}

absl::Status AppendFile::Sync() {
  if (::fsync(fd_) != 0) return ErrnoError("cannot fsync", path_);
  return absl::OkStatus();
}

absl::Status SyncDirectory(const std::filesystem::path& dir) {
  return SyncPath(dir, O_RDONLY | O_DIRECTORY);
}

absl::Status DurableRename(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (absl::Status status = SyncPath(from, O_RDONLY); !status.ok()) return status;
  std::error_code error;
  std::filesystem::rename(from, to, error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot rename ", from.string(), " to ",
                                            to.string(), ": ", error.message()));
  }
  return SyncDirectory(to.parent_path());
}

}  // namespace easel::coordinator
