#ifndef EASEL_COORDINATOR_REGISTRY_DATASET_REGISTRY_H_
#define EASEL_COORDINATOR_REGISTRY_DATASET_REGISTRY_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "coordinator/store/database.h"
#include "easel/v1/resources.pb.h"

namespace easel::coordinator {

// "datasets/SHA256" or a bare sha256 -> the sha256; INVALID_ARGUMENT naming `field`.
absl::StatusOr<std::string> ParseDatasetName(std::string_view name, std::string_view field);

// Uploaded training archives, by content digest.
class DatasetRegistry {
 public:
  explicit DatasetRegistry(Database& database) : database_(database) {}

  absl::StatusOr<v1::Dataset> GetDataset(std::string_view name);

  // NOT_FOUND "dataset datasets/SHA not found".
  static absl::StatusOr<v1::Dataset> LoadDataset(Connection& connection, std::string_view sha256);
  // Records a dataset once; a second call with the same digest keeps the first record.
  static absl::StatusOr<v1::Dataset> RecordDataset(Connection& connection,
                                                   std::string_view sha256, int64_t size_bytes,
                                                   std::string_view filename);

 private:
  Database& database_;
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_REGISTRY_DATASET_REGISTRY_H_
