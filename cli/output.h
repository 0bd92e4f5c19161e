#ifndef EASEL_CLI_OUTPUT_H_
#define EASEL_CLI_OUTPUT_H_

#include <string>

#include "absl/status/status.h"
#include "easel/v1/resources.pb.h"
#include "google/protobuf/message.h"

namespace easel::cli {

std::string ToJson(const google::protobuf::Message& message);
std::string StatusName(easel::v1::TrainingStatus status);  // "succeeded", as Replicate
std::string FormatTime(const google::protobuf::Timestamp& time);

// The inclusion report as `easel trainings show` prints it: a summary line, then the skipped
// files with their reasons and the warnings, each line newline-terminated.
std::string FormatDatasetReport(const easel::v1::DatasetReport& report);

void PrintTraining(const easel::v1::Training& training);
void PrintVersion(const easel::v1::Version& version);

// Prints "error: MESSAGE" to stderr and returns the exit code for the status.
int ReportError(const absl::Status& status);

}  // namespace easel::cli

#endif  // EASEL_CLI_OUTPUT_H_
