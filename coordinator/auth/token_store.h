#ifndef EASEL_COORDINATOR_AUTH_TOKEN_STORE_H_
#define EASEL_COORDINATOR_AUTH_TOKEN_STORE_H_

#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "coordinator/auth/principal.h"
#include "coordinator/store/database.h"
#include "easel/v1/tokens.pb.h"

namespace easel::coordinator {

// API tokens. A token's secret is shown once, at creation; the store keeps its sha256.
class TokenStore {
 public:
  explicit TokenStore(Database& database) : database_(database) {}

  // INVALID_ARGUMENT for a user token without owners, or owners on another role.
  absl::StatusOr<v1::CreateTokenResponse> Create(const v1::CreateTokenRequest& request);
  absl::StatusOr<v1::ListTokensResponse> List(bool include_revoked);
  // Revoking twice is fine; an unknown id is NOT_FOUND.
  absl::StatusOr<v1::Token> Revoke(std::string_view id);

  // The caller a secret stands for; UNAUTHENTICATED when it is unknown or revoked.
  absl::StatusOr<Principal> Authenticate(std::string_view secret);

  // The first admin token: when the file at `path` does not hold a valid admin token, creates
  // one and writes its secret there (mode 0600). Whoever can read the data directory is admin.
  absl::Status EnsureAdminTokenFile(const std::filesystem::path& path);

 private:
  Database& database_;
  std::mutex cache_mutex_;
  absl::flat_hash_map<std::string, Principal> cache_;  // by secret sha256; valid tokens only
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_AUTH_TOKEN_STORE_H_
