#ifndef EASEL_PREPROCESS_INGEST_ARCHIVE_COLLECTOR_H_
#define EASEL_PREPROCESS_INGEST_ARCHIVE_COLLECTOR_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "preprocess/ingest/archive.h"

namespace easel::preprocess {

// What every archive reader shares: the entry policy (which names are refused, which are
// ignored), the running counts checked against ArchiveLimits, and the contents collected.
// A reader calls, per entry: CountEntry(); then, for a directory or regular file, Admit();
// for a file Admit() keeps, AddInflatedBytes() as its bytes arrive and AddFile() at the end.
class ArchiveCollector {
 public:
  explicit ArchiveCollector(const ArchiveLimits& limits) : limits_(limits) {}

  // Counts one more entry of any kind. ResourceExhausted past limits.max_entries.
  absl::Status CountEntry();

  // Checks the path of a directory or regular-file entry (NormalizeEntryPath) and returns the
  // normalised name of a file to read, or nullopt when the entry is left out by its name
  // (directories, __MACOSX/, dotfiles), which is recorded in the ignored list.
  // InvalidArgument for a bad path, or a file name seen before.
  absl::StatusOr<std::optional<std::string>> Admit(std::string_view raw_name, bool is_directory);

  // Records an entry left out for `reason`.
  void Ignore(std::string name, std::string reason);

  // Counts `n` more inflated bytes of entry `name` (which has `entry_bytes` bytes so far,
  // these included) against the per-file and total limits, and the entry's compression ratio
  // when `entry_compressed_bytes` >= 0. ResourceExhausted naming the entry.
  absl::Status AddInflatedBytes(std::string_view name, int64_t n, int64_t entry_bytes,
                                int64_t entry_compressed_bytes);

  // Counts `n` bytes read past (the data of an entry left out) against the total limit.
  absl::Status AddSkippedBytes(std::string_view name, int64_t n);

  // Checks the archive-wide compression ratio: `inflated` bytes from `compressed` bytes of
  // the archive. `name` is the entry being read.
  absl::Status CheckArchiveRatio(std::string_view name, int64_t inflated, int64_t compressed);

  // Keeps a file read in full, or ignores it when it holds an archive (by magic bytes).
  void AddFile(std::string name, std::string data);

  int64_t total_bytes() const { return total_bytes_; }
  const ArchiveLimits& limits() const { return limits_; }

  ArchiveContents Take() && { return std::move(contents_); }

 private:
  const ArchiveLimits limits_;
  int64_t entries_ = 0;
  int64_t total_bytes_ = 0;
  std::set<std::string> file_names_;
  ArchiveContents contents_;
};

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_INGEST_ARCHIVE_COLLECTOR_H_
