#ifndef EASEL_COORDINATOR_AUTH_PRINCIPAL_H_
#define EASEL_COORDINATOR_AUTH_PRINCIPAL_H_

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace easel::coordinator {

enum class Role { kUser, kWorker, kAdmin };

// Who is calling: the token's role and, for user tokens, the owners it acts for.
class Principal {
 public:
  static Principal Admin(std::string token_id) {
    return Principal(std::move(token_id), Role::kAdmin, {});
  }
  static Principal Worker(std::string token_id) {
    return Principal(std::move(token_id), Role::kWorker, {});
  }
  static Principal User(std::string token_id, std::vector<std::string> owners) {
    return Principal(std::move(token_id), Role::kUser, std::move(owners));
  }

  const std::string& token_id() const { return token_id_; }
  Role role() const { return role_; }
  bool is_admin() const { return role_ == Role::kAdmin; }
  const std::vector<std::string>& owners() const { return owners_; }

  // May see and change the resources of `owner`.
  bool ActsFor(std::string_view owner) const {
    return is_admin() || std::find(owners_.begin(), owners_.end(), owner) != owners_.end();
  }

 private:
  Principal(std::string token_id, Role role, std::vector<std::string> owners)
      : token_id_(std::move(token_id)), role_(role), owners_(std::move(owners)) {}

  std::string token_id_;
  Role role_;
  std::vector<std::string> owners_;
};

// Which owners' resources a listing shows: every owner's (admins), or those of `owners`.
struct OwnerScope {
  bool all = true;
  std::vector<std::string> owners;

  static OwnerScope Of(const Principal& principal) {
    return principal.is_admin() ? OwnerScope{} : OwnerScope{false, principal.owners()};
  }
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_AUTH_PRINCIPAL_H_
