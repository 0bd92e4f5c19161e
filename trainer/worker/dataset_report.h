#ifndef EASEL_TRAINER_WORKER_DATASET_REPORT_H_
#define EASEL_TRAINER_WORKER_DATASET_REPORT_H_

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/dataset_report_limits.h"
#include "easel/v1/resources.pb.h"

namespace easel::worker {

// The coordinator's limits on a stored report; tests pass smaller ones.
struct ReportLimits {
  int max_entries = kMaxDatasetReportEntries;  // per list: used, skipped
  int max_warnings = kMaxDatasetReportWarnings;
  int64_t max_bytes = kMaxDatasetReportBytes;
};

// The inclusion report of a prepared dataset's manifest.json (written by easel-preprocess):
// the images used with their captions, the files skipped with their reasons, the warnings.
// Counts are exact; lists are cut to `limits` (warnings kept first, then skipped files, then
// used images). InvalidArgument when the text is not a manifest.
absl::StatusOr<v1::DatasetReport> DatasetReportFromManifest(std::string_view json,
                                                            const ReportLimits& limits = {});
absl::StatusOr<v1::DatasetReport> ReadDatasetReport(const std::filesystem::path& manifest,
                                                    const ReportLimits& limits = {});

}  // namespace easel::worker

#endif  // EASEL_TRAINER_WORKER_DATASET_REPORT_H_
