#ifndef EASEL_PREPROCESS_INGEST_ARCHIVE_FORMAT_H_
#define EASEL_PREPROCESS_INGEST_ARCHIVE_FORMAT_H_

#include <cstddef>
#include <string_view>

namespace easel::preprocess {

// Archive and compression formats known by their magic bytes. Only zip, tar and gzip (around
// a tar) are read; the others are named in error messages and recognised inside an archive,
// where every archive is ignored.
enum class ArchiveFormat { kUnknown, kZip, kTar, kGzip, kBzip2, kXz, kZstd, kSevenZip, kRar };

// How many leading bytes DetectArchiveFormat needs to see to recognise every format (a tar's
// magic sits at offset 257; an empty tar is 1024 zero bytes).
inline constexpr size_t kArchiveMagicBytes = 1024;

// The format `leading_bytes` (the first kArchiveMagicBytes bytes of a file, or all of a
// shorter file) starts like, by magic bytes only, never by name. A tar is recognised by the
// "ustar" magic of POSIX and GNU tar (pre-POSIX v7 tars, which have none, are not), or by
// the two zero blocks of an empty tar.
ArchiveFormat DetectArchiveFormat(std::string_view leading_bytes);

// "zip", "tar", "gzip", "bzip2", "xz", "zstd", "7z", "RAR"; "unknown".
const char* ArchiveFormatName(ArchiveFormat format);

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_INGEST_ARCHIVE_FORMAT_H_
