#ifndef EASEL_PREPROCESS_INGEST_ENTRY_PATH_H_
#define EASEL_PREPROCESS_INGEST_ENTRY_PATH_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace easel::preprocess {

// Entry paths longer than this are refused.
inline constexpr size_t kMaxEntryPathBytes = 4096;

// Checks an archive entry's path and returns it normalised ('/'-separated, without "." or
// empty components; a trailing '/' kept for directories). Both '/' and '\' count as
// separators. InvalidArgument naming the entry for an absolute path (leading separator or a
// drive letter), a ".." component, a NUL byte, a name that is not valid UTF-8, or a name
// longer than kMaxEntryPathBytes.
absl::StatusOr<std::string> NormalizeEntryPath(std::string_view raw_name);

// Why a normalised entry path is left out of the dataset, or nullopt to keep it:
// directories, anything under __MACOSX/, and any component starting with '.'.
std::optional<std::string> IgnoreReason(std::string_view normalized_name);

// `raw_name` in double quotes for an error message: control characters and bytes that are
// not valid UTF-8 written as \xNN, and cut short (with "…") past 200 bytes.
std::string QuoteEntryName(std::string_view raw_name);

// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF).
bool IsValidUtf8(std::string_view text);

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_INGEST_ENTRY_PATH_H_
