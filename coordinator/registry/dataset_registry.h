#ifndef EASEL_COORDINATOR_REGISTRY_DATASET_REGISTRY_H_
#define EASEL_COORDINATOR_REGISTRY_DATASET_REGISTRY_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "coordinator/auth/principal.h"
#include "coordinator/store/database.h"
#include "easel/v1/resources.pb.h"

namespace easel::coordinator {

// "datasets/SHA256" or a bare sha256 -> the sha256; INVALID_ARGUMENT naming `field`.
absl::StatusOr<std::string> ParseDatasetName(std::string_view name, std::string_view field);

// Uploaded training archives, by content digest.
class DatasetRegistry {
 public:
  explicit DatasetRegistry(Database& database) : database_(database) {}

  // NOT_FOUND unless one of the scope's owners uploaded the dataset.
  absl::StatusOr<v1::Dataset> GetDataset(std::string_view name, const OwnerScope& scope);
  // Lets `owners` use the dataset (they uploaded it).
  absl::Status Grant(std::string_view sha256, const std::vector<std::string>& owners);

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
