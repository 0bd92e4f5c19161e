#ifndef EASEL_TRAINER_MODELS_JSON_FIELDS_H_
#define EASEL_TRAINER_MODELS_JSON_FIELDS_H_

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace easel::models {

// Reads json[key] into *out when present and not null; a value of the wrong type is an
// InvalidArgument naming `what` and the field.
template <typename T>
absl::Status ReadField(const nlohmann::json& json, const std::string& key, std::string_view what,
                       T* out) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) return absl::OkStatus();
  try {
    *out = it->get<T>();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(what), " field \"", key,
                                                   "\" has the wrong type: ", it->dump()));
  }
  return absl::OkStatus();
}

}  // namespace easel::models

#endif  // EASEL_TRAINER_MODELS_JSON_FIELDS_H_
