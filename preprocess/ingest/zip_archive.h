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

// Reads every regular file of the zip at `path` into memory (libzip); nothing is extracted
// to disk. The file is recognised by its magic bytes, not its name. Entries are checked in
// the order of the central directory; the first problem refuses the archive.
// Errors: NotFound when `path` cannot be opened; InvalidArgument when it is not a zip, is
// damaged, or holds an entry with an absolute path, a ".." component, a name that is not
// UTF-8, a name seen before, a symlink or other special file, or encryption (the message
// names the entry); ResourceExhausted when a limit of `limits` is passed (the compression
// ratio is judged per entry against its compressed size, and for the archive against the
// file's size, which overlapping entries cannot fake).
// Files holding an archive, __MACOSX/, dotfiles and directories are listed as ignored.
absl::StatusOr<ArchiveContents> ReadZipArchive(const std::filesystem::path& path,
                                               const ArchiveLimits& limits = {});

// The same for a zip held in memory.
absl::StatusOr<ArchiveContents> ReadZipArchiveFromMemory(std::string_view bytes,
                                                         const ArchiveLimits& limits = {});

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_INGEST_ZIP_ARCHIVE_H_
