#ifndef EASEL_COORDINATOR_SCHEDULER_TRAINING_STORE_H_
#define EASEL_COORDINATOR_SCHEDULER_TRAINING_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/scheduler/notifier.h"
#include "coordinator/store/database.h"
#include "easel/v1/trainings.pb.h"
#include "google/protobuf/struct.pb.h"

namespace easel::coordinator {

struct NewTraining {
  std::string model;        // "OWNER/NAME"
  std::string version_id;
  std::string base_model_dir;
  std::string destination;  // "OWNER/NAME"
  google::protobuf::Struct input;  // validated, defaults filled in
  std::string dataset_sha256;
  std::string request_id;
};

bool IsTerminal(v1::TrainingStatus status);

// Trainings, their event logs and cancellation.
class TrainingStore {
 public:
  TrainingStore(Database& database, Notifiers& notifiers)
      : database_(database), notifiers_(notifiers) {}

  // Creates the training (STARTING) and its queued TRAIN task in one transaction; a repeated
  // request_id returns the training the first request created.
  absl::StatusOr<v1::Training> Create(const NewTraining& training);
  absl::StatusOr<std::optional<v1::Training>> FindByRequestId(std::string_view request_id);
  absl::StatusOr<v1::Training> Get(std::string_view id);
  absl::StatusOr<v1::ListTrainingsResponse> List(const v1::ListTrainingsRequest& request);
  absl::StatusOr<v1::Training> Cancel(std::string_view id);
  absl::StatusOr<std::vector<v1::TrainingEvent>> EventsAfter(std::string_view id,
                                                             int64_t after_sequence, int limit);

  // Building blocks for other transactions.
  static absl::StatusOr<v1::Training> LoadTraining(Connection& connection, std::string_view id);
  // Assigns the next sequence number and the time.
  static absl::Status AppendEvent(Connection& connection, std::string_view training_id,
                                  v1::TrainingEvent event);
  static absl::Status AppendLog(Connection& connection, std::string_view training_id,
                                std::string_view text);
  // Moves the training to `status` and appends a status event carrying the training.
  static absl::Status SetStatus(Connection& connection, std::string_view training_id,
                                v1::TrainingStatus status, std::string_view error);

 private:
  Database& database_;
  Notifiers& notifiers_;
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_SCHEDULER_TRAINING_STORE_H_
