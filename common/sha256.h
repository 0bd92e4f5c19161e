#ifndef EASEL_COMMON_SHA256_H_
#define EASEL_COMMON_SHA256_H_

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace easel {

// Incremental SHA-256; Hex() gives the lowercase 64-character digest.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view data);
  std::string Hex();  // Finishes the digest; call once.

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string Sha256Hex(std::string_view data);
absl::StatusOr<std::string> Sha256OfFile(const std::filesystem::path& path);

// True for a 64-character lowercase hex string.
bool IsSha256Hex(std::string_view s);

}  // namespace easel

#endif  // EASEL_COMMON_SHA256_H_
