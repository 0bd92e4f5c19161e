#include "common/remove_tree.h"

#include <ftw.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace easel {
namespace {

int RemoveEntry(const char* path, const struct stat*, int, struct FTW*) {
  return std::remove(path) == 0 || errno == ENOENT ? 0 : errno;
}

}  // namespace

absl::Status RemoveTree(const std::filesystem::path& path) {
  struct stat info;
  if (::lstat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::UnavailableError(absl::StrCat("cannot remove ", path.string(), ": ",
                                               std::strerror(errno)));
  }
  const int error = ::nftw(path.c_str(), RemoveEntry, 32, FTW_DEPTH | FTW_PHYS);
  if (error != 0) {
    return absl::UnavailableError(absl::StrCat("cannot remove ", path.string(), ": ",
                                               std::strerror(error > 0 ? error : errno)));
  }
  return absl::OkStatus();
}

}  // namespace easel
