#ifndef EASEL_COMMON_SAFETENSORS_H_
#define EASEL_COMMON_SAFETENSORS_H_

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace easel::safetensors {

enum class Dtype { kBool, kU8, kI8, kI16, kI32, kI64, kF16, kBF16, kF32, kF64 };

size_t DtypeSize(Dtype dtype);
std::string_view DtypeName(Dtype dtype);  // "F32", "BF16", ...
absl::StatusOr<Dtype> ParseDtype(std::string_view name);

struct TensorView {
  std::string name;
  Dtype dtype;
  std::vector<int64_t> shape;
  const uint8_t* data;
  size_t size_bytes;
};

// A memory-mapped, read-only safetensors file. Views stay valid while the File lives.
class File {
 public:
  static absl::StatusOr<std::unique_ptr<File>> Open(const std::filesystem::path& path);
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::vector<TensorView>& tensors() const { return tensors_; }  // sorted by name
  absl::StatusOr<TensorView> Get(std::string_view name) const;
  const std::filesystem::path& path() const { return path_; }

 private:
  File() = default;

  std::filesystem::path path_;
  void* mapping_ = nullptr;
  size_t mapping_size_ = 0;
  std::map<std::string, std::string> metadata_;
  std::vector<TensorView> tensors_;
};

struct TensorData {
  std::string name;
  Dtype dtype;
  std::vector<int64_t> shape;
  std::string_view bytes;
};

// Writes to a temp file beside `path`, then renames. Header padded with spaces to 8 bytes.
absl::Status Write(const std::filesystem::path& path, const std::vector<TensorData>& tensors,
                   const std::map<std::string, std::string>& metadata);

}  // namespace easel::safetensors

#endif  // EASEL_COMMON_SAFETENSORS_H_
