#include "coordinator/auth/token_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/ids.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "coordinator/registry/names.h"
#include "coordinator/store/timestamps.h"
#include "nlohmann/json.hpp"

namespace easel::coordinator {
namespace {

constexpr char kSecretPrefix[] = "easel_";
constexpr char kTokenColumns[] = "id, role, owners, description, create_us, revoke_us";

v1::Token TokenFromRow(const Statement& row) {
  v1::Token token;
  token.set_id(row.Text(0));
  token.set_role(static_cast<v1::TokenRole>(row.Int(1)));
  for (const auto& owner : nlohmann::json::parse(row.Text(2))) {
    token.add_owners(owner.get<std::string>());
  }
  token.set_description(row.Text(3));
  *token.mutable_create_time() = MicrosToProto(row.Int(4));
  if (!row.IsNull(5)) *token.mutable_revoke_time() = MicrosToProto(row.Int(5));
  return token;
}

Principal PrincipalOf(const v1::Token& token) {
  switch (token.role()) {
    case v1::ADMIN:
      return Principal::Admin(token.id());
    case v1::WORKER:
      return Principal::Worker(token.id());
    default:
      return Principal::User(token.id(), {token.owners().begin(), token.owners().end()});
  }
}

absl::StatusOr<v1::Token> LoadToken(Connection& connection, std::string_view id) {
  EASEL_ASSIGN_OR_RETURN(Statement row,
                         connection.Query(absl::StrCat("SELECT ", kTokenColumns,
                                                       " FROM tokens WHERE id = ?"),
                                          {std::string(id)}));
  EASEL_ASSIGN_OR_RETURN(bool found, row.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("token ", std::string(id), " not found"));
  return TokenFromRow(row);
}

}  // namespace

absl::StatusOr<v1::CreateTokenResponse> TokenStore::Create(const v1::CreateTokenRequest& request) {
  v1::TokenRole role = request.role() == v1::TOKEN_ROLE_UNSPECIFIED ? v1::USER : request.role();
  if (!v1::TokenRole_IsValid(role)) {
    return absl::InvalidArgumentError(absl::StrCat("role ", request.role(), " is unknown"));
  }
  if (role == v1::USER && request.owners().empty()) {
    return absl::InvalidArgumentError("a user token needs at least one owner it acts for");
  }
  if (role != v1::USER && !request.owners().empty()) {
    return absl::InvalidArgumentError(
        "owners are for user tokens only; worker and admin tokens act for no owner");
  }
  nlohmann::json owners = nlohmann::json::array();
  for (const std::string& owner : request.owners()) {
    EASEL_RETURN_IF_ERROR(ValidateNamePart(owner, "owner"));
    owners.push_back(owner);
  }
  if (request.description().size() > 256) {
    return absl::InvalidArgumentError("description must be at most 256 bytes long");
  }
  v1::CreateTokenResponse response;
  response.set_secret(absl::StrCat(kSecretPrefix, NewId(40)));
  std::string id = NewId(12);
  EASEL_RETURN_IF_ERROR(database_.Transact([&](Connection& connection) -> absl::Status {
    EASEL_RETURN_IF_ERROR(
        connection
            .Execute("INSERT INTO tokens (id, secret_sha256, role, owners, description, "
                     "create_us) VALUES (?, ?, ?, ?, ?, ?)",
                     {id, Sha256Hex(response.secret()), int64_t{role}, owners.dump(),
                      request.description(), ToMicros(absl::Now())})
            .status());
    EASEL_ASSIGN_OR_RETURN(*response.mutable_token(), LoadToken(connection, id));
    return absl::OkStatus();
  }));
  return response;
}

absl::StatusOr<v1::ListTokensResponse> TokenStore::List(bool include_revoked) {
  v1::ListTokensResponse response;
  EASEL_RETURN_IF_ERROR(database_.Read([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(
        Statement row,
        connection.Query(absl::StrCat("SELECT ", kTokenColumns, " FROM tokens ",
                                      include_revoked ? "" : "WHERE revoke_us IS NULL ",
                                      "ORDER BY create_us, id")));
    while (true) {
      EASEL_ASSIGN_OR_RETURN(bool more, row.Step());
      if (!more) break;
      *response.add_tokens() = TokenFromRow(row);
    }
    return absl::OkStatus();
  }));
  return response;
}

absl::StatusOr<v1::Token> TokenStore::Revoke(std::string_view id) {
  v1::Token token;
  EASEL_RETURN_IF_ERROR(database_.Transact([&](Connection& connection) -> absl::Status {
    EASEL_RETURN_IF_ERROR(
        connection
            .Execute("UPDATE tokens SET revoke_us = ? WHERE id = ? AND revoke_us IS NULL",
                     {ToMicros(absl::Now()), std::string(id)})
            .status());
    EASEL_ASSIGN_OR_RETURN(token, LoadToken(connection, id));
    return absl::OkStatus();
  }));
  std::lock_guard<std::mutex> lock(cache_mutex_);
  for (auto entry = cache_.begin(); entry != cache_.end();) {
    if (entry->second.token_id() == id) {
      cache_.erase(entry++);
    } else {
      ++entry;
    }
  }
  return token;
}

absl::StatusOr<Principal> TokenStore::Authenticate(std::string_view secret) {
  std::string digest = Sha256Hex(secret);
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto cached = cache_.find(digest);
    if (cached != cache_.end()) return cached->second;
  }
  std::optional<v1::Token> token;
  EASEL_RETURN_IF_ERROR(database_.Read([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(
        Statement row,
        connection.Query(absl::StrCat("SELECT ", kTokenColumns,
                                      " FROM tokens WHERE secret_sha256 = ? "
                                      "AND revoke_us IS NULL"),
                         {digest}));
    EASEL_ASSIGN_OR_RETURN(bool found, row.Step());
    if (found) token = TokenFromRow(row);
    return absl::OkStatus();
  }));
  if (!token.has_value()) {
    return absl::UnauthenticatedError(
        "the API token is not valid: it is unknown or was revoked (easel tokens list)");
  }
  Principal principal = PrincipalOf(*token);
  std::lock_guard<std::mutex> lock(cache_mutex_);
  cache_.insert_or_assign(digest, principal);
  return principal;
}

absl::Status TokenStore::EnsureAdminTokenFile(const std::filesystem::path& path) {
  std::ifstream existing(path);
  if (existing) {
    std::stringstream text;
    text << existing.rdbuf();
    std::string secret(absl::StripAsciiWhitespace(text.str()));
    absl::StatusOr<Principal> principal = Authenticate(secret);
    if (principal.ok() && principal->is_admin()) return absl::OkStatus();
  }
  v1::CreateTokenRequest request;
  request.set_role(v1::ADMIN);
  request.set_description(absl::StrCat("bootstrap admin token (", path.string(), ")"));
  EASEL_ASSIGN_OR_RETURN(v1::CreateTokenResponse created, Create(request));
  std::filesystem::path temp = path;
  temp += ".partial";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot write ", temp.string()));
  }
  std::string line = absl::StrCat(created.secret(), "\n");
  bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                 ::fsync(fd) == 0;
  ::close(fd);
  std::error_code error;
  if (written) std::filesystem::rename(temp, path, error);
  if (!written || error) {
    return absl::UnavailableError(absl::StrCat("cannot write the admin token to ", path.string()));
  }
  return absl::OkStatus();
}

}  // namespace easel::coordinator
