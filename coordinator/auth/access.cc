#include "coordinator/auth/access.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace easel::coordinator {

absl::Status CheckCanRead(const Principal& caller, const v1::Model& model) {
  if (caller.ActsFor(model.owner()) || model.visibility() == "public") return absl::OkStatus();
  return absl::NotFoundError(absl::StrCat("model ", model.owner(), "/", model.name(), " not found"));
}

absl::Status CheckCanChange(const Principal& caller, const v1::Model& model) {
  if (caller.ActsFor(model.owner())) return absl::OkStatus();
  if (model.visibility() != "public") return CheckCanRead(caller, model);
  return CheckActsFor(caller, model.owner());
}

absl::Status CheckActsFor(const Principal& caller, std::string_view owner) {
  if (caller.ActsFor(owner)) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("this token acts for ", absl::StrJoin(caller.owners(), ", "), ", not for ",
                   std::string(owner)));
}

absl::Status CheckCanSee(const Principal& caller, const v1::Training& training) {
  std::string_view destination = training.destination();
  std::string_view owner = destination.substr(0, destination.find('/'));
  if (caller.ActsFor(owner)) return absl::OkStatus();
  return absl::NotFoundError(absl::StrCat("training ", training.id(), " not found"));
}

}  // namespace easel::coordinator
