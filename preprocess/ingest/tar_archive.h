#ifndef EASEL_PREPROCESS_INGEST_TAR_ARCHIVE_H_
#define EASEL_PREPROCESS_INGEST_TAR_ARCHIVE_H_

#include "absl/status/statusor.h"
#include "preprocess/ingest/archive.h"
#include "preprocess/ingest/byte_source.h"

namespace easel::preprocess {

// Reads every regular file of the tar archive `source` yields into memory; nothing is
// extracted to disk. Understands POSIX ustar (with the name prefix), pax extended headers
// (`path` and `size`; other keywords and global headers are ignored) and GNU tar (long names;
// numbers in base-256). Every header's checksum is verified; the archive must end with its
// end-of-archive (zero) block.
// `compressed`: `source` inflates a compressed file, so the archive-wide compression ratio
// (inflated tar bytes against source.consumed_bytes()) is checked as well, and the first
// header must be a tar header.
// Errors: InvalidArgument naming the entry for a hard link, a symlink, a device file, a FIFO,
// a sparse or multi-volume entry, an unknown entry type, a bad path (see NormalizeEntryPath)
// or a repeated name; InvalidArgument for a damaged or truncated archive; ResourceExhausted
// when a limit of `limits` is passed. Files holding an archive, __MACOSX/, dotfiles,
// directories and volume labels are listed as ignored.
absl::StatusOr<ArchiveContents> ReadTarArchive(ByteSource& source, const ArchiveLimits& limits,
                                               bool compressed);

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_INGEST_TAR_ARCHIVE_H_
