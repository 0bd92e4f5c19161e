#include "coordinator/scheduler/dataset_report.h"

#include "absl/strings/str_cat.h"

namespace easel::coordinator {
namespace {

absl::Status CheckList(const char* name, int64_t count, int size, int limit) {
  if (size > limit) {
    return absl::InvalidArgumentError(absl::StrCat("dataset report: ", name, " holds ", size,
                                                   " entries; at most ", limit,
                                                   " are stored, cut the list"));
  }
  if (count < size) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset report: the count of ", name, " (", count,
                     ") must be at least the length of its list (", size, ")"));
  }
  return absl::OkStatus();
}

const char* Plural(int64_t n, const char* one, const char* many) { return n == 1 ? one : many; }

}  // namespace

absl::Status ValidateDatasetReport(const v1::DatasetReport& report) {
  if (absl::Status status =
          CheckList("used", report.images_used(), report.used_size(), kMaxDatasetReportEntries);
      !status.ok()) {
    return status;
  }
  if (absl::Status status = CheckList("skipped", report.images_skipped(), report.skipped_size(),
                                      kMaxDatasetReportEntries);
      !status.ok()) {
    return status;
  }
  if (absl::Status status = CheckList("warnings", report.warning_count(), report.warnings_size(),
                                      kMaxDatasetReportWarnings);
      !status.ok()) {
    return status;
  }
  const int64_t bytes = static_cast<int64_t>(report.ByteSizeLong());
  if (bytes > kMaxDatasetReportBytes) {
    return absl::InvalidArgumentError(absl::StrCat("dataset report is ", bytes,
                                                   " bytes; at most ", kMaxDatasetReportBytes,
                                                   " are stored, cut its lists"));
  }
  return absl::OkStatus();
}

void ClearDatasetReportLists(v1::Training& training) {
  if (!training.has_dataset_report()) return;
  v1::DatasetReport& report = *training.mutable_dataset_report();
  report.clear_used();
  report.clear_skipped();
  report.clear_warnings();
}

std::string DatasetReportSummary(const v1::DatasetReport& report) {
  return absl::StrCat(report.images_used(), Plural(report.images_used(), " image", " images"),
                      " used, ", report.images_skipped(), " skipped, ", report.warning_count(),
                      Plural(report.warning_count(), " warning", " warnings"));
}

}  // namespace easel::coordinator
