#include "preprocess/ingest/entry_path.h"

#include <cctype>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace easel::preprocess {
namespace {

bool IsSeparator(char c) { return c == '/' || c == '\\'; }

bool HasDriveLetter(absl::string_view name) {
  return name.size() >= 2 && std::isalpha(static_cast<unsigned char>(name[0])) &&
         name[1] == ':';
}

}  // namespace

absl::StatusOr<std::string> NormalizeEntryPath(std::string_view raw) {
  const absl::string_view raw_name(raw.data(), raw.size());
  const std::string quoted = absl::StrCat("\"", raw_name, "\"");
  if (raw_name.empty()) {
    return absl::InvalidArgumentError("archive entry with an empty name");
  }
  if (raw_name.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("archive entry ", quoted, " has a NUL byte in its name"));
  }
  if (IsSeparator(raw_name.front()) || HasDriveLetter(raw_name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "archive entry ", quoted, " has an absolute path; entries must be relative"));
  }
  std::vector<absl::string_view> components;
  for (absl::string_view component :
       absl::StrSplit(raw_name, absl::ByAnyChar("/\\"), absl::SkipEmpty())) {
    if (component == ".") continue;
    if (component == "..") {
      return absl::InvalidArgumentError(absl::StrCat(
          "archive entry ", quoted, " has a \"..\" component; entries must stay inside the archive"));
    }
    components.push_back(component);
  }
  if (components.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("archive entry ", quoted, " names no file"));
  }
  std::string normalized = absl::StrJoin(components, "/");
  if (IsSeparator(raw_name.back())) normalized.push_back('/');
  return normalized;
}

std::optional<std::string> IgnoreReason(std::string_view normalized) {
  const absl::string_view normalized_name(normalized.data(), normalized.size());
  if (!normalized_name.empty() && normalized_name.back() == '/') return "directory";
  std::vector<absl::string_view> components = absl::StrSplit(normalized_name, '/');
  if (components.front() == "__MACOSX") return "macOS metadata (__MACOSX/)";
  for (absl::string_view component : components) {
    if (!component.empty() && component.front() == '.') return "hidden file";
  }
  return std::nullopt;
}

}  // namespace easel::preprocess
