#ifndef EASEL_PREPROCESS_INGEST_ZIP_ARCHIVE_H_
#define EASEL_PREPROCESS_INGEST_ZIP_ARCHIVE_H_

#include <filesystem>
#include <string_view>

#include "absl/status/statusor.h"
#include "preprocess/ingest/archive.h"

namespace easel::preprocess {

// True when `leading_bytes` (the first bytes of a file) start like a zip archive: a local
// file header, or the end-of-central-directory record of an empty archive.
bool LooksLikeZip(std::string_view leading_bytes);

// Reads every regular file of the zip at `path` into memory; nothing is extracted to disk.
// The file is recognised by its magic bytes, not its name.
// Errors: NotFound when `path` cannot be opened; InvalidArgument when it is not a zip, is
// damaged, or holds an entry with an absolute path, a ".." component, a symlink or other
// special file, or encryption (the message names the entry); ResourceExhausted when a limit
// of `limits` is passed.
absl::StatusOr<ArchiveContents> ReadZipArchive(const std::filesystem::path& path,
                                               const ArchiveLimits& limits = {});

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_INGEST_ZIP_ARCHIVE_H_
