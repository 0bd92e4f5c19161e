#include "cli/refs.h"

#include "absl/strings/str_cat.h"

namespace easel::cli {

absl::StatusOr<ModelRef> ParseModelRef(absl::string_view text, bool allow_version) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", text, "' is not a model reference: ", why, " (expected OWNER/NAME",
        allow_version ? "[:VERSION])" : ")"));
  };
  ModelRef ref;
  absl::string_view rest = text;
  if (auto colon = rest.find(':'); colon != absl::string_view::npos) {
    if (!allow_version) return invalid("a version is not allowed here");
    ref.version = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (ref.version.empty()) return invalid("empty version after ':'");
  }
  auto slash = rest.find('/');
  if (slash == absl::string_view::npos) return invalid("no '/'");
  ref.owner = std::string(rest.substr(0, slash));
  ref.name = std::string(rest.substr(slash + 1));
  if (ref.owner.empty()) return invalid("empty owner");
  if (ref.name.empty()) return invalid("empty name");
  if (ref.name.find('/') != std::string::npos) return invalid("more than one '/'");
  return ref;
}

}  // namespace easel::cli
