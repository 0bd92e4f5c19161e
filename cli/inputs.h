#ifndef EASEL_CLI_INPUTS_H_
#define EASEL_CLI_INPUTS_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/struct.pb.h"

namespace easel::cli {

// Turns `key=value` arguments into a training input. A value that is valid JSON is decoded
// (30 -> number, true -> bool, "[1]" -> list); anything else is a string. `key=@path` uploads
// the file first with `upload`, which returns the value to use (e.g. "datasets/SHA256").
absl::StatusOr<google::protobuf::Struct> ParseInputs(
    const std::vector<std::string>& arguments,
    const std::function<absl::StatusOr<std::string>(const std::string& path)>& upload);

}  // namespace easel::cli

#endif  // EASEL_CLI_INPUTS_H_
