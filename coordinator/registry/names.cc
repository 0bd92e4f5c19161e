#include "coordinator/registry/names.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace easel::coordinator {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

}  // namespace

absl::Status ValidateNamePart(std::string_view value, std::string_view field) {
  bool valid = !value.empty() && value.size() <= 64 && IsLowerAlnum(value[0]);
  for (char c : value) {
    if (!IsLowerAlnum(c) && c != '.' && c != '_' && c != '-') valid = false;
  }
  if (!valid) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(field), " '", std::string(value),
        "' is invalid: use 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a "
        "letter or digit"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ModelRef> ParseModelRef(std::string_view text, std::string_view field) {
  size_t slash = text.find('/');
  if (text.empty() || slash == std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(field), " '", std::string(text), "' must have the form OWNER/NAME"));
  }
  ModelRef ref{std::string(text.substr(0, slash)), std::string(text.substr(slash + 1))};
  EASEL_RETURN_IF_ERROR(ValidateNamePart(ref.owner, absl::StrCat(std::string(field), " owner")));
  EASEL_RETURN_IF_ERROR(ValidateNamePart(ref.name, absl::StrCat(std::string(field), " name")));
  return ref;
}

}  // namespace easel::coordinator
