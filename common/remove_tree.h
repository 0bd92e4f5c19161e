#ifndef EASEL_COMMON_REMOVE_TREE_H_
#define EASEL_COMMON_REMOVE_TREE_H_

#include <filesystem>

#include "absl/status/status.h"

namespace easel {

// Removes `path` and everything below it, without following symlinks; a missing path is OK.
// Use it instead of std::filesystem::remove_all in code linked with libtorch: PyTorch's own
// libtorch exports a copy of remove_all that crashes, and the dynamic linker may bind to it.
absl::Status RemoveTree(const std::filesystem::path& path);

}  // namespace easel

#endif  // EASEL_COMMON_REMOVE_TREE_H_
