#include "coordinator/store/struct_json.h"

#include "nlohmann/json.hpp"

namespace easel::coordinator {
namespace {

void ToValue(const nlohmann::json& json, google::protobuf::Value& value);

void ToStruct(const nlohmann::json& object, google::protobuf::Struct& out) {
  for (const auto& [key, item] : object.items()) ToValue(item, (*out.mutable_fields())[key]);
}

void ToValue(const nlohmann::json& json, google::protobuf::Value& value) {
  switch (json.type()) {
    case nlohmann::json::value_t::null:
      value.set_null_value(google::protobuf::NULL_VALUE);
      break;
    case nlohmann::json::value_t::boolean:
      value.set_bool_value(json.get<bool>());
      break;
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      value.set_number_value(json.get<double>());
      break;
    case nlohmann::json::value_t::string:
      value.set_string_value(json.get<std::string>());
      break;
    case nlohmann::json::value_t::array:
      for (const nlohmann::json& item : json) ToValue(item, *value.mutable_list_value()->add_values());
      if (json.empty()) value.mutable_list_value();
      break;
    case nlohmann::json::value_t::object:
      ToStruct(json, *value.mutable_struct_value());
      break;
    default:
      value.set_null_value(google::protobuf::NULL_VALUE);
  }
}

}  // namespace

absl::StatusOr<google::protobuf::Struct> StructFromJson(std::string_view json) {
  nlohmann::json parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return absl::InvalidArgumentError("not a JSON object");
  }
  google::protobuf::Struct result;
  ToStruct(parsed, result);
  return result;
}

}  // namespace easel::coordinator
