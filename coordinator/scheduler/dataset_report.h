#ifndef EASEL_COORDINATOR_SCHEDULER_DATASET_REPORT_H_
#define EASEL_COORDINATOR_SCHEDULER_DATASET_REPORT_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "common/dataset_report_limits.h"
#include "easel/v1/resources.pb.h"

namespace easel::coordinator {

// INVALID_ARGUMENT naming the limit (common/dataset_report_limits.h) when `report` passes one, or when its counts are
// negative or smaller than its lists.
absl::Status ValidateDatasetReport(const v1::DatasetReport& report);

// Drops the lists and keeps the counts: the form list responses and status events carry.
void ClearDatasetReportLists(v1::Training& training);

// "18 images used, 2 skipped, 1 warning".
std::string DatasetReportSummary(const v1::DatasetReport& report);

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_SCHEDULER_DATASET_REPORT_H_
