#ifndef EASEL_COORDINATOR_SCHEDULER_TASK_QUEUE_H_
#define EASEL_COORDINATOR_SCHEDULER_TASK_QUEUE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "coordinator/blobs/blob_store.h"
#include "coordinator/scheduler/device_memory.h"
#include "coordinator/scheduler/lease_cache.h"
#include "coordinator/scheduler/notifier.h"
#include "coordinator/store/database.h"
#include "easel/v1/resources.pb.h"
#include "easel/v1/worker.pb.h"

namespace easel::coordinator {

struct TaskQueueOptions {
  absl::Duration lease_duration = absl::Seconds(60);
  int max_attempts = 3;
  // A retried task (crash, infrastructure failure, expired lease) waits retry_backoff after
  // its first failed attempt, doubling with each further one, at most max_retry_backoff.
  absl::Duration retry_backoff = absl::Seconds(5);
  absl::Duration max_retry_backoff = absl::Minutes(5);
};

// Tasks and their leases. Every call about a task is fenced by its epoch: it applies only
// while the lease with that epoch is live, else FAILED_PRECONDITION "stale lease".
class TaskQueue {
 public:
  TaskQueue(Database& database, BlobStore& blobs, Notifiers& notifiers, LeaseCache& leases,
            TaskQueueOptions options)
      : database_(database),
        blobs_(blobs),
        notifiers_(notifiers),
        leases_(leases),
        options_(options) {}

  absl::StatusOr<v1::RegisterWorkerResponse> RegisterWorker(
      const v1::RegisterWorkerRequest& request);
  // The first queued task -- in fair order between owners (TrainingStore::QueueTask), then
  // oldest first -- whose retry back-off has passed and that fits the worker, waiting
  // up to `wait` (at most 30 s) for one; nullopt when none came, when `cancelled` turns true,
  // or on shutdown. A TRAIN task fits when one of `idle_devices` (positions in the worker's
  // registered devices; empty: all) has the memory the training needs (device_memory.h); the
  // task names that device.
  absl::StatusOr<std::optional<v1::Task>> Lease(std::string_view worker_id,
                                                const std::vector<int32_t>& idle_devices,
                                                absl::Duration wait,
                                                const std::function<bool()>& cancelled);
  // Extends the lease. While the lease end stored in SQLite is more than two thirds of a lease
  // ahead, the answer comes from the LeaseCache without the store; otherwise the store is
  // extended (so a task's lease is written at most every third of a lease).
  absl::StatusOr<v1::HeartbeatResponse> Heartbeat(std::string_view task_id, int64_t epoch);
  absl::StatusOr<v1::ReportProgressResponse> ReportProgress(
      const v1::ReportProgressRequest& request);
  // Stores the prepared dataset's inclusion report with the task's training (replacing an
  // earlier attempt's) and logs its summary; INVALID_ARGUMENT past the report limits.
  absl::StatusOr<v1::ReportDatasetResponse> ReportDataset(const v1::ReportDatasetRequest& request);
  // Records an uploaded checkpoint as the TRAIN task's training's latest (a checkpoint of an
  // earlier step than the one recorded is ignored); a retried attempt is leased with it.
  absl::StatusOr<v1::ReportCheckpointResponse> ReportCheckpoint(
      const v1::ReportCheckpointRequest& request);
  absl::Status CheckLease(std::string_view task_id, int64_t epoch);
  // PREPROCESS: caches the prepared dataset and queues the TRAIN task. TRAIN: publishes the
  // version, in one transaction fenced by the epoch.
  absl::StatusOr<v1::CompleteTaskResponse> Complete(const v1::CompleteTaskRequest& request);
  absl::Status Fail(const v1::FailTaskRequest& request);

  // On start: every lease taken before the coordinator stopped gets at least one lease
  // duration from `now`, so its worker can check in before the lease is judged expired.
  // Returns how many leases there were.
  absl::StatusOr<int> ExtendLeasesAfterRestart(absl::Time now);
  // Requeues (or cancels) every task whose lease ended by `now`; returns the earliest lease
  // end still ahead, if any.
  absl::StatusOr<std::optional<absl::Time>> ExpireLeases(absl::Time now);

 private:
  struct Placement {
    v1::Device device;
    int64_t need_bytes = 0;
  };
  absl::StatusOr<std::optional<v1::Task>> TryLease(const std::string& worker_id,
                                                   const std::vector<int32_t>& idle_devices);
  // The worker's registered devices that are idle.
  absl::StatusOr<std::vector<v1::Device>> IdleDevices(Connection& connection,
                                                      const std::string& worker_id,
                                                      const std::vector<int32_t>& idle_devices);
  // The first of `devices` that can hold the training; nullopt when none can.
  std::optional<Placement> Place(const std::string& base_model_dir, const std::string& input_json,
                                 const std::vector<v1::Device>& devices);
  absl::Duration RetryBackoff(int64_t failed_attempt) const;
  // Sets the TRAIN task's checkpoint to resume from, unless its blob is gone (then logs that
  // training starts over).
  absl::Status SetResumeCheckpoint(Connection& connection, const std::string& digest,
                                   int64_t step, v1::Task& task);
  absl::Status CompletePreprocess(const v1::CompleteTaskRequest& request);
  absl::StatusOr<v1::Version> CompleteTrain(const v1::CompleteTaskRequest& request);
  // The size of an uploaded output; FAILED_PRECONDITION when it was not uploaded.
  absl::StatusOr<int64_t> UploadedSize(const v1::OutputRef& output, std::string_view field);

  Database& database_;
  BlobStore& blobs_;
  Notifiers& notifiers_;
  LeaseCache& leases_;
  TaskQueueOptions options_;
  std::mutex model_sizes_mu_;
  std::map<std::string, BaseModelSize> model_sizes_;  // by base model directory
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_SCHEDULER_TASK_QUEUE_H_
