#include "coordinator/api/blob_streaming.h"

#include <fstream>

#include "absl/strings/str_cat.h"

namespace easel::coordinator {

absl::Status StreamFile(const std::filesystem::path& path, int64_t offset,
                        const std::function<bool(int64_t offset, std::string data)>& write) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path.string()));
  in.seekg(offset);
  bool first = true;
  while (true) {
    std::string data(kStreamChunkBytes, '\0');
    in.read(data.data(), static_cast<std::streamsize>(data.size()));
    data.resize(static_cast<size_t>(in.gcount()));
    if (data.empty() && !first) return absl::OkStatus();
    int64_t size = static_cast<int64_t>(data.size());
    if (!write(offset, std::move(data))) {
      return absl::CancelledError("the client stopped reading");
    }
    offset += size;
    first = false;
    if (size < kStreamChunkBytes) return absl::OkStatus();
  }
}

}  // namespace easel::coordinator
