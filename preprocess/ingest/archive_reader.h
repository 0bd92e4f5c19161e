#ifndef EASEL_PREPROCESS_INGEST_ARCHIVE_READER_H_
#define EASEL_PREPROCESS_INGEST_ARCHIVE_READER_H_

#include <filesystem>
#include <string_view>

#include "absl/status/statusor.h"
#include "preprocess/ingest/archive.h"

namespace easel::preprocess {

// Reads an uploaded archive into memory -- a zip, a tar or a gzip-compressed tar, told apart
// by their magic bytes, never by the file's name -- with the checks and limits of
// ReadZipArchive and ReadTarArchive. Nothing is written to disk.
// Errors: NotFound when `path` cannot be opened; InvalidArgument for any other format (the
// message names bzip2, xz, zstd, 7z and RAR when it sees them) and for the problems the
// readers find; ResourceExhausted when a limit is passed.
absl::StatusOr<ArchiveContents> ReadArchive(const std::filesystem::path& path,
                                            const ArchiveLimits& limits = {});

// The same for an archive held in memory.
absl::StatusOr<ArchiveContents> ReadArchiveFromMemory(std::string_view bytes,
                                                      const ArchiveLimits& limits = {});

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_INGEST_ARCHIVE_READER_H_
