#include "coordinator/scheduler/task_queue.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "coordinator/log.h"
#include "coordinator/registry/model_registry.h"
#include "coordinator/registry/names.h"
#include "coordinator/scheduler/dataset_report.h"
#include "coordinator/scheduler/device_memory.h"
#include "coordinator/scheduler/prepared_datasets.h"
#include "coordinator/scheduler/progress_line.h"
#include "coordinator/scheduler/training_store.h"
#include "coordinator/store/struct_json.h"
#include "coordinator/store/timestamps.h"

namespace easel::coordinator {
namespace {

constexpr absl::Duration kMaxLeaseWait = absl::Seconds(30);
// How many of the oldest queued tasks a lease considers when the first do not fit the worker.
constexpr int64_t kPlacementWindow = 256;
// How often a waiting LeaseTask looks whether its client went away.
constexpr absl::Duration kCancelCheckInterval = absl::Seconds(1);

struct LeasedTask {
  std::string training_id;
  v1::TaskKind kind = v1::TASK_KIND_UNSPECIFIED;
  int64_t attempt = 0;
  int64_t crashes = 0;
  bool cancel_requested = false;
  std::string worker_id;
};

const char* TaskKindName(v1::TaskKind kind) {
  return kind == v1::TASK_KIND_PREPROCESS ? "preprocess" : "train";
}

absl::Status StaleLease(std::string_view task_id, int64_t epoch) {
  return absl::FailedPreconditionError(absl::StrCat(
      "stale lease: task ", std::string(task_id), " epoch ", epoch,
      " is no longer leased (it expired, was leased again or finished); stop working on it"));
}

// Applies `UPDATE tasks SET lease_expire_us = <extend or unchanged> WHERE id AND epoch` only
// while the lease is live; exactly one row must change.
absl::StatusOr<LeasedTask> FenceTask(Connection& connection, std::string_view task_id,
                                     int64_t epoch, std::optional<int64_t> extend_to_us) {
  std::string id(task_id);
  int64_t now = ToMicros(absl::Now());
  SqlValue expire = extend_to_us.has_value() ? SqlValue(*extend_to_us) : SqlValue(nullptr);
  EASEL_ASSIGN_OR_RETURN(
      int changed,
      connection.Execute("UPDATE tasks SET lease_expire_us = COALESCE(?, lease_expire_us) "
                         "WHERE id = ? AND epoch = ? AND state = 'leased' AND lease_expire_us > ?",
                         {expire, id, epoch, now}));
  if (changed != 1) return StaleLease(task_id, epoch);
  EASEL_ASSIGN_OR_RETURN(
      Statement row,
      connection.Query("SELECT training_id, kind, attempt, crashes, cancel_requested, worker_id "
                       "FROM tasks WHERE id = ?",
                       {id}));
  EASEL_ASSIGN_OR_RETURN(bool found, row.Step());
  if (!found) return StaleLease(task_id, epoch);
  LeasedTask task{row.Text(0), static_cast<v1::TaskKind>(row.Int(1)), row.Int(2), row.Int(3),
                  row.Int(4) != 0, row.Text(5)};
  EASEL_RETURN_IF_ERROR(connection
                            .Execute("UPDATE workers SET last_seen_us = ? WHERE id = ?",
                                     {now, task.worker_id})
                            .status());
  return task;
}

// Queues the task again, to be leased no sooner than `backoff` from now.
absl::Status Requeue(Connection& connection, std::string_view task_id,
                     std::string_view training_id, std::string_view error, bool counted,
                     absl::Duration backoff, std::string_view log_line) {
  EASEL_RETURN_IF_ERROR(
      connection
          .Execute("UPDATE tasks SET state = 'queued', worker_id = '', lease_expire_us = 0, "
                   "not_before_us = ?, last_error = ?, crashes = crashes + ? WHERE id = ?",
                   {ToMicros(absl::Now() + backoff), std::string(error), int64_t{counted},
                    std::string(task_id)})
          .status());
  return TrainingStore::AppendLog(
      connection, training_id,
      absl::StrCat(std::string(log_line), "; retrying in ", absl::FormatDuration(backoff)));
}

absl::Status EndTask(Connection& connection, std::string_view task_id, std::string_view state,
                     std::string_view error) {
  return connection
      .Execute("UPDATE tasks SET state = ?, lease_expire_us = 0, last_error = ? WHERE id = ?",
               {std::string(state), std::string(error), std::string(task_id)})
      .status();
}

}  // namespace

absl::StatusOr<std::vector<v1::Device>> TaskQueue::IdleDevices(
    Connection& connection, const std::string& worker_id,
    const std::vector<int32_t>& idle_devices) {
  EASEL_ASSIGN_OR_RETURN(Statement row,
                         connection.Query("SELECT devices FROM workers WHERE id = ?", {worker_id}));
  EASEL_ASSIGN_OR_RETURN(bool found, row.Step());
  v1::RegisterWorkerRequest registered;
  if (!found || !registered.ParseFromString(row.Text(0))) {
    return absl::NotFoundError(absl::StrCat("worker ", worker_id, " is not registered"));
  }
  std::vector<v1::Device> devices;
  for (int i = 0; i < registered.devices_size(); ++i) {
    const bool idle = idle_devices.empty() ||
                      std::find(idle_devices.begin(), idle_devices.end(), i) != idle_devices.end();
    if (!idle) continue;
    devices.push_back(registered.devices(i));
  }
  return devices;
}

std::optional<TaskQueue::Placement> TaskQueue::Place(const std::string& base_model_dir,
                                                     const std::string& input_json,
                                                     const std::vector<v1::Device>& devices) {
  absl::StatusOr<google::protobuf::Struct> parsed = StructFromJson(input_json);
  if (!parsed.ok()) return std::nullopt;
  const google::protobuf::Struct& input = *parsed;
  BaseModelSize size;
  {
    std::lock_guard<std::mutex> lock(model_sizes_mu_);
    auto it = model_sizes_.find(base_model_dir);
    if (it == model_sizes_.end()) {
      absl::StatusOr<BaseModelSize> measured = MeasureBaseModel(base_model_dir);
      if (!measured.ok()) {
        LogInfo(absl::StrCat("cannot measure base model ", base_model_dir, ": ",
                             measured.status().ToString(), "; estimating from the inputs alone"));
      }
      it = model_sizes_.emplace(base_model_dir, measured.value_or(BaseModelSize{})).first;
    }
    size = it->second;
  }
  // Trainings go to GPUs where the worker has any; to its CPU otherwise.
  const bool has_gpu = std::any_of(devices.begin(), devices.end(),
                                   [](const v1::Device& d) { return d.kind() == "cuda"; });
  for (const v1::Device& device : devices) {
    if (has_gpu && device.kind() != "cuda") continue;
    const int64_t need = TrainingMemoryNeed(size, input, device.kind());
    if (device.memory_bytes() == 0 || need <= device.memory_bytes()) {
      return Placement{device, need};
    }
  }
  return std::nullopt;
}

absl::Status TaskQueue::SetResumeCheckpoint(Connection& connection, const std::string& digest,
                                            int64_t step, v1::Task& task) {
  if (digest.empty()) return absl::OkStatus();
  if (!blobs_.Contains(digest)) {
    return TrainingStore::AppendLog(
        connection, task.training_id(),
        absl::StrCat("the checkpoint at step ", step, " is missing from the blob store; "
                     "training starts from the beginning"));
  }
  task.set_resume_checkpoint_sha256(digest);
  task.set_resume_checkpoint_step(step);
  return absl::OkStatus();
}

absl::Duration TaskQueue::RetryBackoff(int64_t failed_attempt) const {
  absl::Duration backoff = options_.retry_backoff;
  for (int64_t i = 1; i < failed_attempt && backoff < options_.max_retry_backoff; ++i) {
    backoff *= 2;
  }
  return std::min(backoff, options_.max_retry_backoff);
}

absl::StatusOr<v1::RegisterWorkerResponse> TaskQueue::RegisterWorker(
    const v1::RegisterWorkerRequest& request) {
  if (request.name().empty() || request.name().size() > 256) {
    return absl::InvalidArgumentError("name must be 1-256 bytes long");
  }
  std::string devices;
  for (const v1::Device& device : request.devices()) {
    if (device.kind() != "cpu" && device.kind() != "cuda") {
      return absl::InvalidArgumentError(absl::StrCat(
          "devices: kind '", device.kind(), "' is invalid: use \"cpu\" or \"cuda\""));
    }
  }
  request.SerializeToString(&devices);
  v1::RegisterWorkerResponse response;
  response.set_worker_id(NewId());
  int64_t now = ToMicros(absl::Now());
  LogInfo(absl::StrCat("worker ", response.worker_id(), " registered as ", request.name(), " with ",
                       request.devices_size(), " device(s)"));
  EASEL_RETURN_IF_ERROR(database_.Transact([&](Connection& connection) {
    return connection
        .Execute("INSERT INTO workers (id, name, devices, register_us, last_seen_us) "
                 "VALUES (?, ?, ?, ?, ?)",
                 {response.worker_id(), request.name(), Blob{devices}, now, now})
        .status();
  }));
  int64_t lease_us = absl::ToInt64Microseconds(options_.lease_duration);
  int64_t heartbeat_us = lease_us / 4;
  response.mutable_lease_duration()->set_seconds(lease_us / 1000000);
  response.mutable_lease_duration()->set_nanos(static_cast<int32_t>(lease_us % 1000000) * 1000);
  response.mutable_heartbeat_interval()->set_seconds(heartbeat_us / 1000000);
  response.mutable_heartbeat_interval()->set_nanos(
      static_cast<int32_t>(heartbeat_us % 1000000) * 1000);
  return response;
}

absl::StatusOr<std::optional<v1::Task>> TaskQueue::TryLease(
    const std::string& worker_id, const std::vector<int32_t>& idle_devices) {
  std::optional<v1::Task> task;
  EASEL_RETURN_IF_ERROR(database_.Transact([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(std::vector<v1::Device> devices,
                           IdleDevices(connection, worker_id, idle_devices));
    EASEL_ASSIGN_OR_RETURN(
        Statement next,
        connection.Query("SELECT t.id, t.kind, r.base_model_dir, r.input_json FROM tasks t "
                         "JOIN trainings r ON r.id = t.training_id "
                         "WHERE t.state = 'queued' AND t.not_before_us <= ? "
                         "ORDER BY t.fair_rank, t.seq LIMIT ?",
                         {ToMicros(absl::Now()), kPlacementWindow}));
    std::string task_id;
    Placement placement;
    while (task_id.empty()) {
      EASEL_ASSIGN_OR_RETURN(bool found, next.Step());
      if (!found) return absl::OkStatus();
      if (static_cast<v1::TaskKind>(next.Int(1)) != v1::TASK_KIND_TRAIN) {
        task_id = next.Text(0);
        break;
      }
      std::optional<Placement> placed = Place(next.Text(2), next.Text(3), devices);
      if (placed.has_value()) {
        task_id = next.Text(0);
        placement = *placed;
      }
    }
    int64_t expire = ToMicros(absl::Now() + options_.lease_duration);
    EASEL_RETURN_IF_ERROR(
        connection
            .Execute("UPDATE tasks SET state = 'leased', epoch = epoch + 1, "
                     "attempt = attempt + 1, worker_id = ?, lease_expire_us = ?, "
                     "cancel_requested = 0 WHERE id = ? AND state = 'queued'",
                     {worker_id, expire, task_id})
            .status());
    EASEL_ASSIGN_OR_RETURN(
        Statement row,
        connection.Query("SELECT t.training_id, t.kind, t.attempt, t.epoch, r.dataset_sha256, "
                         "r.base_model_dir, r.model, r.version_id, r.destination, r.input_json, "
                         "r.status, r.prepared_sha256, r.checkpoint_sha256, r.checkpoint_step "
                         "FROM tasks t "
                         "JOIN trainings r ON r.id = t.training_id "
                         "WHERE t.id = ?",
                         {task_id}));
    EASEL_ASSIGN_OR_RETURN(bool joined, row.Step());
    if (!joined) return absl::InternalError(absl::StrCat("task ", std::string(task_id), " has no training"));
    v1::Task& leased = task.emplace();
    leased.set_id(task_id);
    leased.set_training_id(row.Text(0));
    leased.set_kind(static_cast<v1::TaskKind>(row.Int(1)));
    leased.set_attempt(static_cast<int32_t>(row.Int(2)));
    leased.set_epoch(row.Int(3));
    leased.set_dataset_sha256(row.Text(4));
    leased.set_base_model_dir(row.Text(5));
    leased.set_base_version(absl::StrCat(row.Text(6), ":", row.Text(7)));
    leased.set_destination(row.Text(8));
    absl::StatusOr<google::protobuf::Struct> parsed = StructFromJson(row.Text(9));
    if (!parsed.ok()) {
      return absl::DataLossError(absl::StrCat("training ", leased.training_id(),
                                              ": stored input does not parse"));
    }
    *leased.mutable_input() = *std::move(parsed);
    *leased.mutable_lease_expire_time() = MicrosToProto(expire);
    if (leased.kind() == v1::TASK_KIND_TRAIN) {
      *leased.mutable_device() = placement.device;
      leased.set_device_memory_need_bytes(placement.need_bytes);
      leased.set_prepared_dataset_sha256(row.Text(11));
      EASEL_RETURN_IF_ERROR(SetResumeCheckpoint(connection, row.Text(12), row.Int(13), leased));
    }
    if (row.Int(10) == v1::STARTING) {
      EASEL_RETURN_IF_ERROR(
          TrainingStore::SetStatus(connection, leased.training_id(), v1::PROCESSING, ""));
    }
    return TrainingStore::AppendLog(
        connection, leased.training_id(),
        absl::StrCat(TaskKindName(leased.kind()), " attempt ", leased.attempt(),
                     " leased to worker ", worker_id,
                     leased.resume_checkpoint_step() > 0
                         ? absl::StrCat("; resuming from the checkpoint at step ",
                                        leased.resume_checkpoint_step())
                         : ""));
  }));
  if (task.has_value()) {
    LogInfo(absl::StrCat("task ", task->id(), " of training ", task->training_id(),
                         " leased to worker ", worker_id, " (attempt ", task->attempt(),
                         ", epoch ", task->epoch(), ")"));
    notifiers_.events.Notify();
    notifiers_.leases.Notify();
  }
  return task;
}

absl::StatusOr<std::optional<v1::Task>> TaskQueue::Lease(std::string_view worker_id,
                                                         const std::vector<int32_t>& idle_devices,
                                                         absl::Duration wait,
                                                         const std::function<bool()>& cancelled) {
  std::string worker(worker_id);
  if (worker.empty()) return absl::InvalidArgumentError("worker_id is required");
  EASEL_RETURN_IF_ERROR(database_.Read([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(Statement row,
                           connection.Query("SELECT 1 FROM workers WHERE id = ?", {worker}));
    EASEL_ASSIGN_OR_RETURN(bool found, row.Step());
    if (!found) {
      return absl::NotFoundError(
          absl::StrCat("worker ", worker, " is not registered; call RegisterWorker first"));
    }
    return absl::OkStatus();
  }));
  absl::Time deadline = absl::Now() + std::clamp(wait, absl::ZeroDuration(), kMaxLeaseWait);
  while (true) {
    uint64_t seen = notifiers_.tasks.generation();
    uint64_t cancels_seen = leases_.generation();
    EASEL_ASSIGN_OR_RETURN(std::optional<v1::Task> task, TryLease(worker, idle_devices));
    if (task.has_value()) {
      // The lease end is stored: its first heartbeats need not touch the store either.
      leases_.Remember(task->id(), task->epoch(), ProtoToMicros(task->lease_expire_time()),
                       task->training_id(), cancels_seen);
      return task;
    }
    absl::Time now = absl::Now();
    if (now >= deadline || cancelled()) return std::nullopt;
    if (!notifiers_.tasks.WaitFor(seen, std::min(deadline, now + kCancelCheckInterval))) {
      return std::nullopt;
    }
  }
}

absl::StatusOr<v1::HeartbeatResponse> TaskQueue::Heartbeat(std::string_view task_id,
                                                           int64_t epoch) {
  v1::HeartbeatResponse response;
  absl::Time now = absl::Now();
  if (std::optional<int64_t> stored = leases_.StoredEnd(
          task_id, epoch, ToMicros(now + options_.lease_duration * 2 / 3))) {
    *response.mutable_lease_expire_time() = MicrosToProto(*stored);
    return response;
  }
  int64_t expire = ToMicros(now + options_.lease_duration);
  uint64_t cancels_seen = leases_.generation();
  LeasedTask task;
  absl::Status fenced = database_.Transact([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(task, FenceTask(connection, task_id, epoch, expire));
    return absl::OkStatus();
  }, Durability::kRelaxed);
  if (!fenced.ok() || task.cancel_requested) {
    leases_.Forget(task_id);  // the store answers this task's heartbeats from now on
  } else {
    leases_.Remember(task_id, epoch, expire, task.training_id, cancels_seen);
  }
  EASEL_RETURN_IF_ERROR(fenced);
  if (task.cancel_requested) response.add_commands(v1::CANCEL);
  *response.mutable_lease_expire_time() = MicrosToProto(expire);
  return response;
}

absl::StatusOr<v1::ReportProgressResponse> TaskQueue::ReportProgress(
    const v1::ReportProgressRequest& request) {
  v1::ReportProgressResponse response;
  int64_t expire = ToMicros(absl::Now() + options_.lease_duration);
  EASEL_RETURN_IF_ERROR(database_.Transact([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(LeasedTask task,
                           FenceTask(connection, request.task_id(), request.epoch(), expire));
    for (const v1::LogLine& line : request.logs()) {
      EASEL_RETURN_IF_ERROR(TrainingStore::AppendLog(connection, task.training_id, line.text()));
    }
    for (const v1::Progress& progress : request.progress()) {
      EASEL_RETURN_IF_ERROR(connection
                                .Execute("UPDATE trainings SET progress = ? WHERE id = ?",
                                         {Blob{progress.SerializeAsString()}, task.training_id})
                                .status());
      v1::TrainingEvent event;
      *event.mutable_progress() = progress;
      EASEL_RETURN_IF_ERROR(TrainingStore::AppendEvent(connection, task.training_id, event));
    }
    if (request.progress_size() > 0 && request.progress().rbegin()->phase() == "train") {
      // The batch's latest step as a tqdm line in `logs` (not an event: watchers have the
      // progress events), for clients that read progress from logs.
      EASEL_RETURN_IF_ERROR(
          connection
              .Execute("UPDATE trainings SET logs = logs || ? WHERE id = ?",
                       {TqdmLine(*request.progress().rbegin()) + "\n", task.training_id})
              .status());
    }
    if (task.cancel_requested) response.add_commands(v1::CANCEL);
    return absl::OkStatus();
  }, Durability::kRelaxed));
  if (request.logs_size() + request.progress_size() > 0) notifiers_.events.Notify();
  return response;
}

absl::StatusOr<v1::ReportDatasetResponse> TaskQueue::ReportDataset(
    const v1::ReportDatasetRequest& request) {
  if (!request.has_report()) return absl::InvalidArgumentError("report is required");
  EASEL_RETURN_IF_ERROR(ValidateDatasetReport(request.report()));
  v1::ReportDatasetResponse response;
  int64_t expire = ToMicros(absl::Now() + options_.lease_duration);
  EASEL_RETURN_IF_ERROR(database_.Transact([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(LeasedTask task,
                           FenceTask(connection, request.task_id(), request.epoch(), expire));
    EASEL_RETURN_IF_ERROR(
        connection
            .Execute("UPDATE trainings SET dataset_report = ? WHERE id = ?",
                     {Blob{request.report().SerializeAsString()}, task.training_id})
            .status());
    EASEL_RETURN_IF_ERROR(TrainingStore::AppendLog(
        connection, task.training_id,
        absl::StrCat("dataset: ", DatasetReportSummary(request.report()))));
    if (task.cancel_requested) response.add_commands(v1::CANCEL);
    return absl::OkStatus();
  }));
  notifiers_.events.Notify();
  return response;
}

absl::StatusOr<v1::ReportCheckpointResponse> TaskQueue::ReportCheckpoint(
    const v1::ReportCheckpointRequest& request) {
  if (request.step() <= 0) return absl::InvalidArgumentError("step must be positive");
  const std::string& digest = request.checkpoint().sha256();
  v1::ReportCheckpointResponse response;
  int64_t expire = ToMicros(absl::Now() + options_.lease_duration);
  EASEL_RETURN_IF_ERROR(database_.Transact([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(LeasedTask task,
                           FenceTask(connection, request.task_id(), request.epoch(), expire));
    if (task.kind != v1::TASK_KIND_TRAIN) {
      return absl::FailedPreconditionError(
          absl::StrCat("task ", request.task_id(), " is not a TRAIN task; only training "
                       "checkpoints"));
    }
    EASEL_RETURN_IF_ERROR(UploadedSize(request.checkpoint(), "checkpoint").status());
    EASEL_ASSIGN_OR_RETURN(
        int changed,
        connection.Execute("UPDATE trainings SET checkpoint_sha256 = ?, checkpoint_step = ? "
                           "WHERE id = ? AND checkpoint_step < ?",
                           {digest, request.step(), task.training_id, request.step()}));
    if (changed == 1) {
      EASEL_RETURN_IF_ERROR(TrainingStore::AppendLog(
          connection, task.training_id,
          absl::StrCat("checkpoint saved at step ", request.step(), " (", digest.substr(0, 12),
                       ")")));
    }
    if (task.cancel_requested) response.add_commands(v1::CANCEL);
    return absl::OkStatus();
  }));
  notifiers_.events.Notify();
  return response;
}

absl::Status TaskQueue::CheckLease(std::string_view task_id, int64_t epoch) {
  return database_.Transact([&](Connection& connection) {
    return FenceTask(connection, task_id, epoch, std::nullopt).status();
  });
}

absl::StatusOr<v1::CompleteTaskResponse> TaskQueue::Complete(
    const v1::CompleteTaskRequest& request) {
  leases_.Forget(request.task_id());  // an ending lease's heartbeats go to the store
  // A task's kind never changes; each completion below fences the lease in its transaction.
  v1::TaskKind kind = v1::TASK_KIND_UNSPECIFIED;
  EASEL_RETURN_IF_ERROR(database_.Read([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(
        Statement row,
        connection.Query("SELECT kind FROM tasks WHERE id = ?", {request.task_id()}));
    EASEL_ASSIGN_OR_RETURN(bool found, row.Step());
    if (!found) return StaleLease(request.task_id(), request.epoch());
    kind = static_cast<v1::TaskKind>(row.Int(0));
    return absl::OkStatus();
  }));
  v1::CompleteTaskResponse response;
  if (kind == v1::TASK_KIND_PREPROCESS) {
    EASEL_RETURN_IF_ERROR(CompletePreprocess(request));
  } else {
    EASEL_ASSIGN_OR_RETURN(*response.mutable_version(), CompleteTrain(request));
  }
  return response;
}

absl::StatusOr<int64_t> TaskQueue::UploadedSize(const v1::OutputRef& output,
                                                std::string_view field) {
  const std::string& digest = output.sha256();
  if (!blobs_.Contains(digest)) {
    return absl::FailedPreconditionError(absl::StrCat(std::string(field), " blob '", digest,
                                                      "' has not been uploaded; call "
                                                      "UploadOutput first"));
  }
  EASEL_ASSIGN_OR_RETURN(int64_t size, blobs_.Size(digest));
  if (output.size_bytes() != 0 && output.size_bytes() != size) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(field), ".size_bytes ",
                                                   output.size_bytes(),
                                                   " differs from the uploaded blob's ", size));
  }
  return size;
}

absl::Status TaskQueue::CompletePreprocess(const v1::CompleteTaskRequest& request) {
  const std::string& prepared = request.prepared_dataset().sha256();
  EASEL_RETURN_IF_ERROR(UploadedSize(request.prepared_dataset(), "prepared_dataset").status());
  std::string training_id;
  EASEL_RETURN_IF_ERROR(database_.Transact([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(LeasedTask task,
                           FenceTask(connection, request.task_id(), request.epoch(), std::nullopt));
    training_id = task.training_id;
    EASEL_ASSIGN_OR_RETURN(v1::Training training,
                           TrainingStore::LoadTraining(connection, task.training_id));
    EASEL_ASSIGN_OR_RETURN(Statement row,
                           connection.Query("SELECT dataset_sha256, COALESCE(dataset_report, '') "
                                            "FROM trainings WHERE id = ?",
                                            {task.training_id}));
    EASEL_ASSIGN_OR_RETURN(bool found, row.Step());
    if (!found) return absl::NotFoundError(absl::StrCat("training ", task.training_id, " not found"));
    EASEL_RETURN_IF_ERROR(PreparedDatasets::Remember(
        connection, row.Text(0), PreprocessInputsDigest(training.input()),
        PreparedDatasetEntry{prepared, row.Text(1), task.training_id}));
    EASEL_RETURN_IF_ERROR(connection
                              .Execute("UPDATE trainings SET prepared_sha256 = ? WHERE id = ?",
                                       {prepared, task.training_id})
                              .status());
    EASEL_RETURN_IF_ERROR(EndTask(connection, request.task_id(), "done", ""));
    if (task.cancel_requested) {
      return TrainingStore::SetStatus(connection, task.training_id, v1::CANCELED, "");
    }
    EASEL_RETURN_IF_ERROR(TrainingStore::AppendLog(
        connection, task.training_id,
        absl::StrCat("dataset prepared (", prepared.substr(0, 12), "); queued for training")));
    return TrainingStore::QueueTask(connection, task.training_id, v1::TASK_KIND_TRAIN);
  }));
  LogInfo(absl::StrCat("task ", request.task_id(), " completed: training ", training_id,
                       " has its prepared dataset ", prepared));
  notifiers_.events.Notify();
  notifiers_.tasks.Notify();
  return absl::OkStatus();
}

absl::StatusOr<v1::Version> TaskQueue::CompleteTrain(const v1::CompleteTaskRequest& request) {
  const std::string& digest = request.weights().sha256();
  EASEL_ASSIGN_OR_RETURN(int64_t size, UploadedSize(request.weights(), "weights"));
  v1::Version published;
  EASEL_RETURN_IF_ERROR(database_.Transact([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(LeasedTask task,
                           FenceTask(connection, request.task_id(), request.epoch(), std::nullopt));
    EASEL_ASSIGN_OR_RETURN(v1::Training training,
                           TrainingStore::LoadTraining(connection, task.training_id));
    EASEL_ASSIGN_OR_RETURN(ModelRef destination,
                           ParseModelRef(training.destination(), "destination"));
    v1::Version version;
    version.set_base_version(absl::StrCat(training.model(), ":", training.version()));
    version.set_weights_digest(digest);
    version.set_weights_size(size);
    version.set_weights_format(request.weights_format().empty() ? "diffusers-lora"
                                                                : request.weights_format());
    for (const std::string& token : request.trigger_tokens()) version.add_trigger_tokens(token);
    if (version.trigger_tokens_size() == 0) {
      auto it = training.input().fields().find("token_string");
      if (it != training.input().fields().end()) {
        version.add_trigger_tokens(it->second.string_value());
      }
    }
    version.set_training_id(training.id());
    EASEL_ASSIGN_OR_RETURN(published,
                           ModelRegistry::InsertVersion(connection, destination, version));
    EASEL_RETURN_IF_ERROR(EndTask(connection, request.task_id(), "done", ""));
    v1::TrainingOutput output;
    output.set_version(absl::StrCat(training.destination(), ":", published.id()));
    output.set_weights_digest(digest);
    *output.mutable_trigger_tokens() = published.trigger_tokens();
    EASEL_RETURN_IF_ERROR(connection
                              .Execute("UPDATE trainings SET output = ? WHERE id = ?",
                                       {Blob{output.SerializeAsString()}, training.id()})
                              .status());
    return TrainingStore::SetStatus(connection, training.id(), v1::SUCCEEDED, "");
  }));
  LogInfo(absl::StrCat("task ", request.task_id(), " completed: published ", published.model(),
                       ":", published.id()));
  notifiers_.events.Notify();
  return published;
}

absl::Status TaskQueue::Fail(const v1::FailTaskRequest& request) {
  leases_.Forget(request.task_id());
  if (request.failure_class() == v1::FAILURE_CLASS_UNSPECIFIED ||
      !v1::FailureClass_IsValid(request.failure_class())) {
    return absl::InvalidArgumentError(
        "failure_class is required: USER_ERROR, CRASH, INFRASTRUCTURE or CANCELED_BY_USER");
  }
  bool requeued = false;
  EASEL_RETURN_IF_ERROR(database_.Transact([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(LeasedTask task,
                           FenceTask(connection, request.task_id(), request.epoch(), std::nullopt));
    std::string error = request.error().empty()
                            ? absl::StrCat("the worker exited with status ", request.exit_status())
                            : request.error();
    v1::FailureClass failure = request.failure_class();
    if (failure == v1::CANCELED_BY_USER || task.cancel_requested) {
      EASEL_RETURN_IF_ERROR(EndTask(connection, request.task_id(), "canceled", error));
      return TrainingStore::SetStatus(connection, task.training_id, v1::CANCELED, "");
    }
    if (failure == v1::USER_ERROR ||
        (failure == v1::CRASH && task.crashes + 1 >= options_.max_attempts)) {
      EASEL_RETURN_IF_ERROR(EndTask(connection, request.task_id(), "failed", error));
      return TrainingStore::SetStatus(connection, task.training_id, v1::FAILED, error);
    }
    bool counted = failure == v1::CRASH;
    requeued = true;
    return Requeue(connection, request.task_id(), task.training_id, error, counted,
                   RetryBackoff(task.attempt),
                   absl::StrCat("attempt ", task.attempt, " failed (",
                                counted ? "crash" : "infrastructure", "): ", error));
  }));
  LogInfo(absl::StrCat("task ", request.task_id(), " failed (",
                       v1::FailureClass_Name(request.failure_class()), "): ", request.error(),
                       requeued ? "; requeued" : ""));
  notifiers_.events.Notify();
  if (requeued) notifiers_.tasks.Notify();
  return absl::OkStatus();
}

absl::StatusOr<int> TaskQueue::ExtendLeasesAfterRestart(absl::Time now) {
  int extended = 0;
  EASEL_RETURN_IF_ERROR(database_.Transact([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(
        extended,
        connection.Execute("UPDATE tasks SET lease_expire_us = MAX(lease_expire_us, ?) "
                           "WHERE state = 'leased'",
                           {ToMicros(now + options_.lease_duration)}));
    return absl::OkStatus();
  }));
  if (extended > 0) {
    LogInfo(absl::StrCat(extended, " task(s) were leased when the coordinator stopped; their "
                         "workers have ", absl::FormatDuration(options_.lease_duration),
                         " to check in"));
  }
  return extended;
}

absl::StatusOr<std::optional<absl::Time>> TaskQueue::ExpireLeases(absl::Time now) {
  std::optional<absl::Time> next;
  int expired = 0;
  int64_t now_us = ToMicros(now);
  EASEL_RETURN_IF_ERROR(database_.Transact([&](Connection& connection) -> absl::Status {
    struct Expired {
      std::string id, training_id, worker_id;
      int64_t attempt;
      bool cancel_requested;
    };
    std::vector<Expired> tasks;
    {
      EASEL_ASSIGN_OR_RETURN(
          Statement row,
          connection.Query("SELECT id, training_id, worker_id, attempt, cancel_requested "
                           "FROM tasks WHERE state = 'leased' AND lease_expire_us <= ?",
                           {now_us}));
      while (true) {
        EASEL_ASSIGN_OR_RETURN(bool more, row.Step());
        if (!more) break;
        tasks.push_back({row.Text(0), row.Text(1), row.Text(2), row.Int(3), row.Int(4) != 0});
      }
    }
    for (const Expired& task : tasks) {
      leases_.Forget(task.id);
      if (task.cancel_requested) {
        EASEL_RETURN_IF_ERROR(EndTask(connection, task.id, "canceled", "lease expired"));
        EASEL_RETURN_IF_ERROR(
            TrainingStore::SetStatus(connection, task.training_id, v1::CANCELED, ""));
      } else {
        EASEL_RETURN_IF_ERROR(Requeue(
            connection, task.id, task.training_id, "lease expired", false,
            RetryBackoff(task.attempt),
            absl::StrCat("attempt ", task.attempt, " lost: the lease of worker ", task.worker_id,
                         " expired; requeued")));
      }
      ++expired;
    }
    EASEL_ASSIGN_OR_RETURN(
        Statement earliest,
        connection.Query("SELECT MIN(lease_expire_us) FROM tasks WHERE state = 'leased'"));
    EASEL_ASSIGN_OR_RETURN(bool found, earliest.Step());
    if (found && !earliest.IsNull(0)) next = absl::FromUnixMicros(earliest.Int(0));
    return absl::OkStatus();
  }));
  if (expired > 0) {
    LogInfo(absl::StrCat(expired, " lease(s) expired"));
    notifiers_.events.Notify();
    notifiers_.tasks.Notify();
  }
  return next;
}

}  // namespace easel::coordinator
