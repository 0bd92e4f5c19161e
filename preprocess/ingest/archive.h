#ifndef EASEL_PREPROCESS_INGEST_ARCHIVE_H_
#define EASEL_PREPROCESS_INGEST_ARCHIVE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace easel::preprocess {

// Limits every archive reader enforces; passing one refuses the whole archive
// (ResourceExhausted, naming the entry being read). Sizes are counted while inflating: the
// sizes an archive declares are not trusted.
struct ArchiveLimits {
  int64_t max_entries = 10'000;                 // entries of any kind, directories included
  int64_t max_file_bytes = int64_t{64} << 20;   // 64 MiB inflated, per file
  int64_t max_total_bytes = int64_t{1} << 30;   // 1 GiB inflated, all entries read together
  // Compression-ratio limit against zip bombs: refused when a zip entry inflates to more than
  // max_compression_ratio times its compressed size, or all entries together to more than
  // max_compression_ratio times the archive's size (a zip, or the compressed bytes of a
  // .tar.gz read so far) -- but only once the inflated bytes in question pass
  // ratio_floor_bytes, so that small, very compressible files stay welcome.
  int64_t max_compression_ratio = 200;
  int64_t ratio_floor_bytes = int64_t{1} << 20;  // 1 MiB
};

// A regular file read from an archive into memory. `name` is the entry's path with "." and
// empty components removed, '/'-separated, valid UTF-8.
struct ArchiveFile {
  std::string name;
  std::string data;
};

// An entry left out on purpose, with the reason: a directory, macOS metadata (__MACOSX/), a
// dotfile, an archive inside the archive, a tar volume label.
struct IgnoredEntry {
  std::string name;
  std::string reason;
};

struct ArchiveContents {
  std::vector<ArchiveFile> files;  // in archive order
  std::vector<IgnoredEntry> ignored;
};

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_INGEST_ARCHIVE_H_
