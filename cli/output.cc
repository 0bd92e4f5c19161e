#include "cli/output.h"

#include <cstdio>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace easel::cli {

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

std::string StatusName(easel::v1::TrainingStatus status) {
  if (status == easel::v1::TRAINING_STATUS_UNSPECIFIED) return "unknown";
  return absl::AsciiStrToLower(easel::v1::TrainingStatus_Name(status));
}

std::string FormatTime(const google::protobuf::Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixSeconds(time.seconds()),
                          absl::UTCTimeZone());
}

namespace {

std::string Counted(int64_t n, const char* one, const char* many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

// Lines under a label, the label's column left blank after the first; "… and N more" when
// the list was cut short of its count.
void AppendList(std::string& out, const char* label, const std::vector<std::string>& lines,
                int64_t count) {
  for (size_t i = 0; i < lines.size(); ++i) {
    absl::StrAppendFormat(&out, "%-14s%s\n", i == 0 ? label : "", lines[i]);
  }
  if (count > static_cast<int64_t>(lines.size())) {
    absl::StrAppendFormat(&out, "%-14s… and %d more\n", lines.empty() ? label : "",
                          count - static_cast<int64_t>(lines.size()));
  }
}

}  // namespace

std::string FormatDatasetReport(const easel::v1::DatasetReport& report) {
  std::string out = absl::StrCat(
      "Dataset:      ", Counted(report.images_used(), "image", "images"), " used, ",
      report.images_skipped(), " skipped, ", Counted(report.warning_count(), "warning", "warnings"),
      "\n");
  std::vector<std::string> skipped;
  for (const auto& file : report.skipped()) {
    skipped.push_back(absl::StrCat(file.source(), ": ", file.reason()));
  }
  AppendList(out, "Skipped:", skipped, report.images_skipped());
  AppendList(out, "Warnings:", {report.warnings().begin(), report.warnings().end()},
             report.warning_count());
  return out;
}

void PrintTraining(const easel::v1::Training& t) {
  std::printf("Training:     %s\n", t.id().c_str());
  std::printf("Status:       %s\n", StatusName(t.status()).c_str());
  std::printf("Base model:   %s:%s\n", t.model().c_str(), t.version().c_str());
  std::printf("Destination:  %s\n", t.destination().c_str());
  std::printf("Created:      %s\n", FormatTime(t.create_time()).c_str());
  if (t.has_start_time()) std::printf("Started:      %s\n", FormatTime(t.start_time()).c_str());
  if (t.has_complete_time()) {
    std::printf("Completed:    %s\n", FormatTime(t.complete_time()).c_str());
  }
  if (t.has_progress() && t.progress().total() > 0) {
    std::printf("Progress:     %s step %lld/%lld, loss %.4g\n", t.progress().phase().c_str(),
                static_cast<long long>(t.progress().step()),
                static_cast<long long>(t.progress().total()), t.progress().loss());
  }
  if (!t.error().empty()) std::printf("Error:        %s\n", t.error().c_str());
  if (t.has_dataset_report()) std::fputs(FormatDatasetReport(t.dataset_report()).c_str(), stdout);
  if (!t.prepared_dataset_sha256().empty()) {
    std::printf("Prepared:     sha256:%s\n", t.prepared_dataset_sha256().c_str());
  }
  if (t.checkpoint_step() > 0) {
    std::printf("Checkpoint:   step %lld, sha256:%s\n", static_cast<long long>(t.checkpoint_step()),
                t.checkpoint_sha256().c_str());
  }
  if (t.has_output() && !t.output().version().empty()) {
    std::printf("Version:      %s\n", t.output().version().c_str());
    std::printf("Trigger:      %s\n", absl::StrJoin(t.output().trigger_tokens(), ", ").c_str());
    std::printf("Weights:      sha256:%s\n", t.output().weights_digest().c_str());
  }
}

void PrintVersion(const easel::v1::Version& v) {
  std::printf("%s:%s\n", v.model().c_str(), v.id().c_str());
  std::printf("  created:   %s\n", FormatTime(v.create_time()).c_str());
  if (!v.base_version().empty()) std::printf("  base:      %s\n", v.base_version().c_str());
  if (!v.base_model_dir().empty()) std::printf("  directory: %s\n", v.base_model_dir().c_str());
  std::printf("  format:    %s\n", v.weights_format().c_str());
  if (!v.weights_digest().empty()) {
    std::printf("  weights:   sha256:%s (%lld bytes)\n", v.weights_digest().c_str(),
                static_cast<long long>(v.weights_size()));
  }
  if (v.trigger_tokens_size() > 0) {
    std::printf("  trigger:   %s\n", absl::StrJoin(v.trigger_tokens(), ", ").c_str());
  }
  if (!v.training_id().empty()) std::printf("  training:  %s\n", v.training_id().c_str());
}

int ReportError(const absl::Status& status) {
  std::fprintf(stderr, "error: %s\n", std::string(status.message()).c_str());
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
      return 2;
    default:
      return 1;
  }
}

}  // namespace easel::cli
