#ifndef EASEL_TRAINER_SAMPLING_SCHEDULER_CONFIG_H_
#define EASEL_TRAINER_SAMPLING_SCHEDULER_CONFIG_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace easel::sampling {

// Typed reads of a diffusers scheduler_config.json field. A missing or null field gives
// `fallback`; a field of the wrong type is InvalidArgument naming it.
absl::StatusOr<double> ConfigNumber(const nlohmann::json& config, const char* field,
                                    double fallback);
absl::StatusOr<int64_t> ConfigInteger(const nlohmann::json& config, const char* field,
                                      int64_t fallback);
absl::StatusOr<bool> ConfigBool(const nlohmann::json& config, const char* field, bool fallback);
absl::StatusOr<std::string> ConfigString(const nlohmann::json& config, const char* field,
                                         const char* fallback);

}  // namespace easel::sampling

#endif  // EASEL_TRAINER_SAMPLING_SCHEDULER_CONFIG_H_
