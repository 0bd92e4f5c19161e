#ifndef EASEL_COORDINATOR_SCHEDULER_TRAINING_STORE_H_
#define EASEL_COORDINATOR_SCHEDULER_TRAINING_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/auth/principal.h"
#include "coordinator/blobs/blob_store.h"
#include "coordinator/scheduler/lease_cache.h"
#include "coordinator/scheduler/notifier.h"
#include "coordinator/scheduler/prepared_datasets.h"
#include "coordinator/store/database.h"
#include "easel/v1/trainings.pb.h"
#include "easel/v1/worker.pb.h"
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
  // Where to POST the training's webhook events (empty: none), and which events.
  std::string webhook;
  std::vector<std::string> webhook_events;
};

bool IsTerminal(v1::TrainingStatus status);

// Trainings, their event logs and cancellation.
class TrainingStore {
 public:
  TrainingStore(Database& database, BlobStore& blobs, Notifiers& notifiers, LeaseCache& leases)
      : database_(database), blobs_(blobs), notifiers_(notifiers), leases_(leases) {}

  // Creates the training (STARTING) and its first queued task in one transaction: PREPROCESS,
  // or TRAIN when a prepared dataset of the same archive and preprocessing inputs is cached.
  // A repeated request_id returns the training the first request created.
  absl::StatusOr<v1::Training> Create(const NewTraining& training);
  absl::StatusOr<std::optional<v1::Training>> FindByRequestId(std::string_view request_id);
  absl::StatusOr<v1::Training> Get(std::string_view id);
  // The trainings into the scope's owners' models, newest first.
  absl::StatusOr<v1::ListTrainingsResponse> List(const v1::ListTrainingsRequest& request,
                                                 const OwnerScope& scope);
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
  // Queues a task of the training, fairly between owners (the destination's owner): its
  // fair_rank is one past the owner's last queued task's and never below the lowest rank
  // still queued; tasks are leased by fair_rank, then age. So owners take turns, and an owner
  // who queues 1,000 trainings delays another's next one by at most one task per owner.
  static absl::Status QueueTask(Connection& connection, std::string_view training_id,
                                v1::TaskKind kind);

 private:
  // The cached prepared dataset for the training's archive and preprocessing inputs whose
  // blob is still stored; an entry whose blob is gone is dropped.
  absl::StatusOr<std::optional<PreparedDatasetEntry>> FindPrepared(Connection& connection,
                                                                   const NewTraining& request);
  // Points the training at `prepared`, copies its report and queues the TRAIN task.
  static absl::Status UsePrepared(Connection& connection, std::string_view training_id,
                                  const PreparedDatasetEntry& prepared);

  Database& database_;
  BlobStore& blobs_;
  Notifiers& notifiers_;
  LeaseCache& leases_;
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_SCHEDULER_TRAINING_STORE_H_
