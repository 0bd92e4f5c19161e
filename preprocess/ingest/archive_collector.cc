#include "preprocess/ingest/archive_collector.h"

#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "preprocess/ingest/archive_format.h"
#include "preprocess/ingest/entry_path.h"

namespace easel::preprocess {
namespace {

// inflated > ratio * compressed, without overflow; a ratio of 0 or less turns the check off.
bool ExceedsRatio(int64_t inflated, int64_t compressed, int64_t ratio) {
  if (ratio <= 0) return false;
  if (compressed <= 0) return true;
  if (compressed > std::numeric_limits<int64_t>::max() / ratio) return false;
  return inflated > ratio * compressed;
}

}  // namespace

absl::Status ArchiveCollector::CountEntry() {
  if (++entries_ > limits_.max_entries) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the archive has more than ", limits_.max_entries, " entries, the limit"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> ArchiveCollector::Admit(std::string_view raw_name,
                                                                   bool is_directory) {
  EASEL_ASSIGN_OR_RETURN(std::string name, NormalizeEntryPath(raw_name));
  if (is_directory && name.back() != '/') name.push_back('/');
  if (std::optional<std::string> reason = IgnoreReason(name)) {
    Ignore(std::move(name), std::move(*reason));
    return std::nullopt;
  }
  if (!file_names_.insert(name).second) {
    return absl::InvalidArgumentError(absl::StrCat("archive entry ", QuoteEntryName(raw_name),
                                                   " appears more than once in the archive"));
  }
  return name;
}

void ArchiveCollector::Ignore(std::string name, std::string reason) {
  contents_.ignored.push_back({std::move(name), std::move(reason)});
}

absl::Status ArchiveCollector::AddInflatedBytes(std::string_view name, int64_t n,
                                                int64_t entry_bytes,
                                                int64_t entry_compressed_bytes) {
  total_bytes_ += n;
  if (entry_bytes > limits_.max_file_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("archive entry ", QuoteEntryName(name), " inflates to more than ",
                     limits_.max_file_bytes, " bytes, the limit per file"));
  }
  if (total_bytes_ > limits_.max_total_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the archive inflates to more than ", limits_.max_total_bytes,
                     " bytes in all (limit reached at entry ", QuoteEntryName(name), ")"));
  }
  if (entry_compressed_bytes >= 0 && entry_bytes > limits_.ratio_floor_bytes &&
      ExceedsRatio(entry_bytes, entry_compressed_bytes, limits_.max_compression_ratio)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "archive entry ", QuoteEntryName(name), " exceeds the compression ratio limit: ",
        entry_compressed_bytes, " compressed bytes inflate to at least ", entry_bytes,
        " (the limit is ", limits_.max_compression_ratio, ":1); this looks like a zip bomb"));
  }
  return absl::OkStatus();
}

absl::Status ArchiveCollector::AddSkippedBytes(std::string_view name, int64_t n) {
  total_bytes_ += n;
  if (total_bytes_ > limits_.max_total_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the archive inflates to more than ", limits_.max_total_bytes,
                     " bytes in all (limit reached at entry ", QuoteEntryName(name), ")"));
  }
  return absl::OkStatus();
}

absl::Status ArchiveCollector::CheckArchiveRatio(std::string_view name, int64_t inflated,
                                                 int64_t compressed) {
  if (inflated > limits_.ratio_floor_bytes &&
      ExceedsRatio(inflated, compressed, limits_.max_compression_ratio)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the archive exceeds the compression ratio limit: ", compressed,
        " compressed bytes inflate to at least ", inflated, " (the limit is ",
        limits_.max_compression_ratio, ":1; reached at entry ", QuoteEntryName(name),
        "); this looks like a zip bomb"));
  }
  return absl::OkStatus();
}

void ArchiveCollector::AddFile(std::string name, std::string data) {
  const ArchiveFormat nested =
      DetectArchiveFormat(std::string_view(data).substr(0, kArchiveMagicBytes));
  if (nested != ArchiveFormat::kUnknown) {
    Ignore(std::move(name), absl::StrCat("an archive inside the archive (",
                                         ArchiveFormatName(nested), "); it is not opened"));
    return;
  }
  contents_.files.push_back({std::move(name), std::move(data)});
}

}  // namespace easel::preprocess
