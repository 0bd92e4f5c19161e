#ifndef EASEL_PREPROCESS_INGEST_ENTRY_PATH_H_
#define EASEL_PREPROCESS_INGEST_ENTRY_PATH_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace easel::preprocess {

// Checks an archive entry's path and returns it normalised ('/'-separated, without "." or
// empty components; a trailing '/' kept for directories). Both '/' and '\' count as
// separators. InvalidArgument naming the entry for an absolute path (leading separator or a
// drive letter), a ".." component, or a NUL byte.
absl::StatusOr<std::string> NormalizeEntryPath(std::string_view raw_name);

// Why a normalised entry path is left out of the dataset, or nullopt to keep it:
// directories, anything under __MACOSX/, and any component starting with '.'.
std::optional<std::string> IgnoreReason(std::string_view normalized_name);

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_INGEST_ENTRY_PATH_H_
