#ifndef EASEL_PREPROCESS_INGEST_ARCHIVE_H_
#define EASEL_PREPROCESS_INGEST_ARCHIVE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace easel::preprocess {

// Limits every archive reader enforces. Sizes are counted while inflating: the sizes an
// archive declares are not trusted.
struct ArchiveLimits {
  int64_t max_entries = 10'000;                 // entries of any kind, directories included
  int64_t max_file_bytes = int64_t{64} << 20;   // 64 MiB inflated, per file
  int64_t max_total_bytes = int64_t{1} << 30;   // 1 GiB inflated, all files together
};

// A regular file read from an archive into memory. `name` is the entry's path with "." and
// empty components removed, '/'-separated.
struct ArchiveFile {
  std::string name;
  std::string data;
};

// An entry left out on purpose (a directory, macOS metadata, a dotfile), with the reason.
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
