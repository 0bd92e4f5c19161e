#ifndef EASEL_COORDINATOR_API_BLOB_STREAMING_H_
#define EASEL_COORDINATOR_API_BLOB_STREAMING_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "absl/status/status.h"

namespace easel::coordinator {

inline constexpr int64_t kStreamChunkBytes = int64_t{1} << 20;

// Reads `path` from `offset` in chunks of at most 1 MiB and hands each to `write` with its
// offset; stops with CANCELLED when `write` returns false (the client went away). An empty
// remainder still produces one empty chunk.
absl::Status StreamFile(const std::filesystem::path& path, int64_t offset,
                        const std::function<bool(int64_t offset, std::string data)>& write);

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_API_BLOB_STREAMING_H_
