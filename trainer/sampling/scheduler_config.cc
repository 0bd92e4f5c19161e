#include "trainer/sampling/scheduler_config.h"

#include "absl/strings/str_cat.h"

namespace easel::sampling {
namespace {

bool Missing(const nlohmann::json& config, const char* field) {
  return !config.is_object() || !config.contains(field) || config[field].is_null();
}

absl::Status WrongType(const nlohmann::json& config, const char* field, const char* expected) {
  return absl::InvalidArgumentError(absl::StrCat("scheduler config: ", field, " must be ", expected,
                                                 ", got ", config[field].dump()));
}

}  // namespace

absl::StatusOr<double> ConfigNumber(const nlohmann::json& config, const char* field,
                                    double fallback) {
  if (Missing(config, field)) return fallback;
  if (!config[field].is_number()) return WrongType(config, field, "a number");
  return config[field].get<double>();
}

absl::StatusOr<int64_t> ConfigInteger(const nlohmann::json& config, const char* field,
                                      int64_t fallback) {
  if (Missing(config, field)) return fallback;
  if (!config[field].is_number_integer()) return WrongType(config, field, "an integer");
  return config[field].get<int64_t>();
}

absl::StatusOr<bool> ConfigBool(const nlohmann::json& config, const char* field, bool fallback) {
  if (Missing(config, field)) return fallback;
  if (!config[field].is_boolean()) return WrongType(config, field, "true or false");
  return config[field].get<bool>();
}

absl::StatusOr<std::string> ConfigString(const nlohmann::json& config, const char* field,
                                         const char* fallback) {
  if (Missing(config, field)) return std::string(fallback);
  if (!config[field].is_string()) return WrongType(config, field, "a string");
  return config[field].get<std::string>();
}

}  // namespace easel::sampling
