#include "coordinator/scheduler/prepared_datasets.h"

#include "absl/time/clock.h"
#include "common/preprocess_inputs.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "coordinator/store/timestamps.h"
#include "nlohmann/json.hpp"

namespace easel::coordinator {
namespace {

nlohmann::json ToJson(const google::protobuf::Value& value) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kNumberValue: return value.number_value();
    case google::protobuf::Value::kStringValue: return value.string_value();
    case google::protobuf::Value::kBoolValue: return value.bool_value();
    default: return nullptr;  // the preprocessing inputs are scalars; anything else is absent
  }
}

}  // namespace

std::string PreprocessInputsDigest(const google::protobuf::Struct& input) {
  nlohmann::json canonical = nlohmann::json::object();  // keys sorted
  for (std::string_view name : kPreprocessInputs) {
    auto it = input.fields().find(std::string(name));
    canonical[std::string(name)] = it == input.fields().end() ? nullptr : ToJson(it->second);
  }
  canonical["easel_preprocess_output_version"] = kPreprocessOutputVersion;
  return Sha256Hex(canonical.dump());
}

absl::StatusOr<std::optional<PreparedDatasetEntry>> PreparedDatasets::Find(
    Connection& connection, std::string_view archive_sha256, std::string_view inputs_sha256) {
  EASEL_ASSIGN_OR_RETURN(
      Statement row,
      connection.Query("SELECT prepared_sha256, COALESCE(report, ''), training_id "
                       "FROM prepared_datasets WHERE archive_sha256 = ? AND inputs_sha256 = ?",
                       {std::string(archive_sha256), std::string(inputs_sha256)}));
  EASEL_ASSIGN_OR_RETURN(bool found, row.Step());
  if (!found) return std::nullopt;
  return PreparedDatasetEntry{row.Text(0), row.Text(1), row.Text(2)};
}

absl::Status PreparedDatasets::Remember(Connection& connection, std::string_view archive_sha256,
                                        std::string_view inputs_sha256,
                                        const PreparedDatasetEntry& entry) {
  SqlValue report = entry.report.empty() ? SqlValue(nullptr) : SqlValue(Blob{entry.report});
  return connection
      .Execute("INSERT OR REPLACE INTO prepared_datasets (archive_sha256, inputs_sha256, "
               "prepared_sha256, report, training_id, create_us) VALUES (?, ?, ?, ?, ?, ?)",
               {std::string(archive_sha256), std::string(inputs_sha256), entry.prepared_sha256,
                report, entry.training_id, ToMicros(absl::Now())})
      .status();
}

absl::Status PreparedDatasets::Forget(Connection& connection, std::string_view archive_sha256,
                                      std::string_view inputs_sha256) {
  return connection
      .Execute("DELETE FROM prepared_datasets WHERE archive_sha256 = ? AND inputs_sha256 = ?",
               {std::string(archive_sha256), std::string(inputs_sha256)})
      .status();
}

}  // namespace easel::coordinator
