#include "cli/output.h"

#include <cstdio>

#include "absl/strings/ascii.h"
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
