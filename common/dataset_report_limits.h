#ifndef EASEL_COMMON_DATASET_REPORT_LIMITS_H_
#define EASEL_COMMON_DATASET_REPORT_LIMITS_H_

#include <cstdint>

namespace easel {

// Limits on an inclusion report (v1::DatasetReport), shared by the worker, which cuts its lists
// to fit, and the coordinator, which refuses a report past them. The entry limit matches the
// archive limit of 10,000 entries; the byte limit keeps GetTraining well under gRPC's default
// 4 MiB client receive limit.
inline constexpr int kMaxDatasetReportEntries = 10'000;  // per list: used, skipped
inline constexpr int kMaxDatasetReportWarnings = 1'000;
inline constexpr int64_t kMaxDatasetReportBytes = int64_t{2} << 20;

}  // namespace easel

#endif  // EASEL_COMMON_DATASET_REPORT_LIMITS_H_
