#include "preprocess/ingest/entry_path.h"

#include <cctype>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace easel::preprocess {
namespace {

constexpr size_t kQuotedNameBytes = 200;

bool IsSeparator(char c) { return c == '/' || c == '\\'; }

bool HasDriveLetter(absl::string_view name) {
  return name.size() >= 2 && std::isalpha(static_cast<unsigned char>(name[0])) &&
         name[1] == ':';
}

// Length of the well-formed UTF-8 sequence starting `text`, or 0 when it is not one.
size_t Utf8SequenceLength(std::string_view text) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  size_t length = 0;
  unsigned char min_second = 0x80;
  unsigned char max_second = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) min_second = 0xA0;  // overlong
    if (lead == 0xED) max_second = 0x9F;  // UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) min_second = 0x90;  // overlong
    if (lead == 0xF4) max_second = 0x8F;  // past U+10FFFF
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  if (byte(1) < min_second || byte(1) > max_second) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return length;
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  while (!text.empty()) {
    const size_t length = Utf8SequenceLength(text);
    if (length == 0) return false;
    text.remove_prefix(length);
  }
  return true;
}

std::string QuoteEntryName(std::string_view raw_name) {
  std::string quoted = "\"";
  std::string_view rest = raw_name;
  while (!rest.empty() && quoted.size() <= kQuotedNameBytes) {
    const size_t length = Utf8SequenceLength(rest);
    const auto lead = static_cast<unsigned char>(rest[0]);
    if (length == 0 || lead < 0x20 || lead == 0x7F) {
      absl::StrAppendFormat(&quoted, "\\x%02X", lead);
      rest.remove_prefix(1);
    } else {
      quoted.append(rest.substr(0, length));
      rest.remove_prefix(length);
    }
  }
  if (!rest.empty()) quoted.append("…");
  quoted.push_back('"');
  return quoted;
}

absl::StatusOr<std::string> NormalizeEntryPath(std::string_view raw) {
  const absl::string_view raw_name(raw.data(), raw.size());
  const std::string quoted = QuoteEntryName(raw);
  if (raw_name.empty()) {
    return absl::InvalidArgumentError("archive entry with an empty name");
  }
  if (raw_name.size() > kMaxEntryPathBytes) {
    return absl::InvalidArgumentError(absl::StrCat("archive entry ", quoted, " has a name of ",
                                                   raw_name.size(), " bytes; the limit is ",
                                                   kMaxEntryPathBytes));
  }
  if (raw_name.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("archive entry ", quoted, " has a NUL byte in its name"));
  }
  if (!IsValidUtf8(raw)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "archive entry ", quoted, " has a name that is not valid UTF-8; rename the file"));
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
      return absl::InvalidArgumentError(
          absl::StrCat("archive entry ", quoted,
                       " has a \"..\" component; entries must stay inside the archive"));
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
