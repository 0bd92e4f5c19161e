#ifndef EASEL_COORDINATOR_SCHEDULER_DATASET_REPORT_H_
#define EASEL_COORDINATOR_SCHEDULER_DATASET_REPORT_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "easel/v1/resources.pb.h"

namespace easel::coordinator {

// Limits on a stored inclusion report (documented on v1::DatasetReport). The entry limits
// match the archive limit of 10,000 entries; the byte limit keeps GetTraining well under
// gRPC's default 4 MiB client receive limit.
inline constexpr int kMaxReportEntries = 10'000;  // per list: used, skipped
inline constexpr int kMaxReportWarnings = 1'000;
inline constexpr int64_t kMaxReportBytes = int64_t{2} << 20;

// INVALID_ARGUMENT naming the limit when `report` passes one, or when its counts are
// negative or smaller than its lists.
absl::Status ValidateDatasetReport(const v1::DatasetReport& report);

// Drops the lists and keeps the counts: the form list responses and status events carry.
void ClearDatasetReportLists(v1::Training& training);

// "18 images used, 2 skipped, 1 warning".
std::string DatasetReportSummary(const v1::DatasetReport& report);

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_SCHEDULER_DATASET_REPORT_H_
