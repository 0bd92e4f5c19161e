#ifndef EASEL_TRAINER_WORKER_DATASET_REPORT_H_
#define EASEL_TRAINER_WORKER_DATASET_REPORT_H_

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "absl/status/statusor.h"
#include "easel/v1/resources.pb.h"

namespace easel::worker {

// The coordinator's limits on a stored report (documented on v1::DatasetReport).
struct ReportLimits {
  int max_entries = 10'000;  // per list: used, skipped
  int max_warnings = 1'000;
  int64_t max_bytes = int64_t{2} << 20;
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
