#include "coordinator/registry/dataset_registry.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "coordinator/store/timestamps.h"
#include "nlohmann/json.hpp"

namespace easel::coordinator {

absl::StatusOr<std::string> ParseDatasetName(std::string_view name, std::string_view field) {
  std::string_view digest = name;
  if (digest.starts_with("datasets/")) digest.remove_prefix(9);
  if (!IsSha256Hex(digest)) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(field), " '", std::string(name), "' must be \"datasets/<sha256>\" or the sha256 of an uploaded dataset"));
  }
  return std::string(digest);
}

absl::StatusOr<v1::Dataset> DatasetRegistry::LoadDataset(Connection& connection,
                                                         std::string_view sha256) {
  EASEL_ASSIGN_OR_RETURN(
      Statement row,
      connection.Query("SELECT sha256, size_bytes, filename, create_us FROM datasets "
                       "WHERE sha256 = ?",
                       {std::string(sha256)}));
  EASEL_ASSIGN_OR_RETURN(bool found, row.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("dataset datasets/", std::string(sha256), " not found"));
  v1::Dataset dataset;
  dataset.set_sha256(row.Text(0));
  dataset.set_name(absl::StrCat("datasets/", dataset.sha256()));
  dataset.set_size_bytes(row.Int(1));
  dataset.set_filename(row.Text(2));
  *dataset.mutable_create_time() = MicrosToProto(row.Int(3));
  return dataset;
}

absl::StatusOr<v1::Dataset> DatasetRegistry::RecordDataset(Connection& connection,
                                                           std::string_view sha256,
                                                           int64_t size_bytes,
                                                           std::string_view filename) {
  EASEL_RETURN_IF_ERROR(
      connection
          .Execute("INSERT OR IGNORE INTO datasets (sha256, size_bytes, filename, create_us) "
                   "VALUES (?, ?, ?, ?)",
                   {std::string(sha256), size_bytes, std::string(filename),
                    ToMicros(absl::Now())})
          .status());
  return LoadDataset(connection, sha256);
}

absl::StatusOr<v1::Dataset> DatasetRegistry::GetDataset(std::string_view name,
                                                        const OwnerScope& scope) {
  EASEL_ASSIGN_OR_RETURN(std::string sha256, ParseDatasetName(name, "name"));
  v1::Dataset dataset;
  EASEL_RETURN_IF_ERROR(database_.Read([&](Connection& connection) -> absl::Status {
    if (!scope.all) {
      EASEL_ASSIGN_OR_RETURN(
          Statement granted,
          connection.Query("SELECT 1 FROM dataset_grants WHERE sha256 = ? "
                           "AND owner IN (SELECT value FROM json_each(?))",
                           {sha256, nlohmann::json(scope.owners).dump()}));
      EASEL_ASSIGN_OR_RETURN(bool found, granted.Step());
      if (!found) {
        return absl::NotFoundError(absl::StrCat("dataset datasets/", sha256, " not found"));
      }
    }
    EASEL_ASSIGN_OR_RETURN(dataset, LoadDataset(connection, sha256));
    return absl::OkStatus();
  }));
  return dataset;
}

absl::Status DatasetRegistry::Grant(std::string_view sha256,
                                    const std::vector<std::string>& owners) {
  if (owners.empty()) return absl::OkStatus();
  return database_.Transact([&](Connection& connection) -> absl::Status {
    for (const std::string& owner : owners) {
      EASEL_RETURN_IF_ERROR(
          connection
              .Execute("INSERT OR IGNORE INTO dataset_grants (sha256, owner) VALUES (?, ?)",
                       {std::string(sha256), owner})
              .status());
    }
    return absl::OkStatus();
  });
}

}  // namespace easel::coordinator
