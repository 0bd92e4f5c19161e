#include "cli/inputs.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace easel::cli {

absl::StatusOr<google::protobuf::Struct> ParseInputs(
    const std::vector<std::string>& arguments,
    const std::function<absl::StatusOr<std::string>(const std::string& path)>& upload) {
  google::protobuf::Struct input;
  for (const std::string& argument : arguments) {
    auto equals = argument.find('=');
    if (equals == std::string::npos || equals == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", argument, "' is not of the form key=value or key=@file"));
    }
    const std::string key = argument.substr(0, equals);
    const std::string value = argument.substr(equals + 1);
    google::protobuf::Value& slot = (*input.mutable_fields())[key];
    if (!value.empty() && value[0] == '@') {
      auto uploaded = upload(value.substr(1));
      if (!uploaded.ok()) return uploaded.status();
      slot.set_string_value(*uploaded);
    } else if (!google::protobuf::util::JsonStringToMessage(value, &slot).ok()) {
      slot.set_string_value(value);
    }
  }
  return input;
}

}  // namespace easel::cli
