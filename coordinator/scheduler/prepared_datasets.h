#ifndef EASEL_COORDINATOR_SCHEDULER_PREPARED_DATASETS_H_
#define EASEL_COORDINATOR_SCHEDULER_PREPARED_DATASETS_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "coordinator/store/database.h"
#include "google/protobuf/struct.pb.h"

namespace easel::coordinator {

// SHA-256 over the preprocessing inputs (kPreprocessInputs) of a validated training input and
// kPreprocessOutputVersion: equal digests mean easel-preprocess makes the same prepared
// dataset from the same archive.
std::string PreprocessInputsDigest(const google::protobuf::Struct& input);

struct PreparedDatasetEntry {
  std::string prepared_sha256;  // the packed prepared dataset in the blob store
  std::string report;           // a serialized v1::DatasetReport, empty when none was sent
  std::string training_id;      // the training whose PREPROCESS task made it
};

// The cache of prepared datasets, keyed by (archive digest, preprocessing-inputs digest).
// Building blocks for the scheduler's transactions.
class PreparedDatasets {
 public:
  static absl::StatusOr<std::optional<PreparedDatasetEntry>> Find(Connection& connection,
                                                                   std::string_view archive_sha256,
                                                                   std::string_view inputs_sha256);
  // Records (or replaces) the entry for the key.
  static absl::Status Remember(Connection& connection, std::string_view archive_sha256,
                               std::string_view inputs_sha256, const PreparedDatasetEntry& entry);
  static absl::Status Forget(Connection& connection, std::string_view archive_sha256,
                             std::string_view inputs_sha256);
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_SCHEDULER_PREPARED_DATASETS_H_
