#include "coordinator/scheduler/training_store.h"

#include <algorithm>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "coordinator/log.h"
#include "coordinator/scheduler/dataset_report.h"
#include "coordinator/scheduler/prepared_datasets.h"
#include "coordinator/store/page_token.h"
#include "coordinator/store/struct_json.h"
#include "coordinator/store/timestamps.h"
#include "easel/v1/worker.pb.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace easel::coordinator {
namespace {

constexpr char kTrainingSelect[] =
    "SELECT seq, id, model, version_id, destination, input_json, status, error, logs, output, "
    "progress, create_us, start_us, complete_us, COALESCE(request_id, ''), dataset_report, "
    "prepared_sha256, checkpoint_sha256, checkpoint_step, "
    "(SELECT url FROM training_webhooks WHERE training_id = trainings.id), "
    "(SELECT events FROM training_webhooks WHERE training_id = trainings.id) FROM trainings ";

absl::StatusOr<v1::Training> TrainingFromRow(const Statement& row) {
  v1::Training training;
  training.set_id(row.Text(1));
  training.set_model(row.Text(2));
  training.set_version(row.Text(3));
  training.set_destination(row.Text(4));
  absl::StatusOr<google::protobuf::Struct> parsed = StructFromJson(row.Text(5));
  if (!parsed.ok()) {
    return absl::DataLossError(absl::StrCat("training ", training.id(),
                                            ": stored input does not parse: ",
                                            parsed.status().message()));
  }
  *training.mutable_input() = *std::move(parsed);
  training.set_status(static_cast<v1::TrainingStatus>(row.Int(6)));
  training.set_error(row.Text(7));
  training.set_logs(row.Text(8));
  if (!row.IsNull(9)) training.mutable_output()->ParseFromString(row.Text(9));
  if (!row.IsNull(10)) training.mutable_progress()->ParseFromString(row.Text(10));
  *training.mutable_create_time() = MicrosToProto(row.Int(11));
  if (!row.IsNull(12)) *training.mutable_start_time() = MicrosToProto(row.Int(12));
  if (!row.IsNull(13)) *training.mutable_complete_time() = MicrosToProto(row.Int(13));
  training.set_request_id(row.Text(14));
  if (!row.IsNull(15) && !training.mutable_dataset_report()->ParseFromString(row.Text(15))) {
    return absl::DataLossError(
        absl::StrCat("training ", training.id(), ": stored dataset report is corrupt"));
  }
  training.set_prepared_dataset_sha256(row.Text(16));
  training.set_checkpoint_sha256(row.Text(17));
  training.set_checkpoint_step(row.Int(18));
  if (!row.IsNull(19)) {
    training.set_webhook(row.Text(19));
    for (const auto& event : nlohmann::json::parse(row.Text(20), nullptr, false)) {
      if (event.is_string()) training.add_webhook_events_filter(event.get<std::string>());
    }
  }
  return training;
}

}  // namespace

bool IsTerminal(v1::TrainingStatus status) {
  return status == v1::SUCCEEDED || status == v1::FAILED || status == v1::CANCELED;
}

absl::StatusOr<v1::Training> TrainingStore::LoadTraining(Connection& connection,
                                                         std::string_view id) {
  EASEL_ASSIGN_OR_RETURN(
      Statement row,
      connection.Query(absl::StrCat(kTrainingSelect, "WHERE id = ?"), {std::string(id)}));
  EASEL_ASSIGN_OR_RETURN(bool found, row.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("training ", std::string(id), " not found"));
  return TrainingFromRow(row);
}

absl::Status TrainingStore::AppendEvent(Connection& connection, std::string_view training_id,
                                        v1::TrainingEvent event) {
  std::string id(training_id);
  EASEL_ASSIGN_OR_RETURN(
      int changed,
      connection.Execute("UPDATE trainings SET event_count = event_count + 1 WHERE id = ?", {id}));
  if (changed != 1) return absl::NotFoundError(absl::StrCat("training ", std::string(id), " not found"));
  EASEL_ASSIGN_OR_RETURN(Statement row,
                         connection.Query("SELECT event_count FROM trainings WHERE id = ?", {id}));
  EASEL_ASSIGN_OR_RETURN(bool found, row.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("training ", std::string(id), " not found"));
  int64_t now = ToMicros(absl::Now());
  event.set_sequence(row.Int(0));
  *event.mutable_time() = MicrosToProto(now);
  return connection
      .Execute("INSERT INTO training_events (training_id, sequence, time_us, event) "
               "VALUES (?, ?, ?, ?)",
               {id, event.sequence(), now, Blob{event.SerializeAsString()}})
      .status();
}

absl::Status TrainingStore::AppendLog(Connection& connection, std::string_view training_id,
                                      std::string_view text) {
  std::string line(text);
  if (line.empty() || line.back() != '\n') line.push_back('\n');
  EASEL_RETURN_IF_ERROR(connection
                            .Execute("UPDATE trainings SET logs = logs || ? WHERE id = ?",
                                     {line, std::string(training_id)})
                            .status());
  v1::TrainingEvent event;
  line.pop_back();
  event.mutable_log()->set_text(line);
  return AppendEvent(connection, training_id, std::move(event));
}

absl::Status TrainingStore::SetStatus(Connection& connection, std::string_view training_id,
                                      v1::TrainingStatus status, std::string_view error) {
  std::string id(training_id);
  int64_t now = ToMicros(absl::Now());
  EASEL_RETURN_IF_ERROR(
      connection
          .Execute("UPDATE trainings SET status = ?, error = ?, "
                   "start_us = CASE WHEN ? = 2 AND start_us IS NULL THEN ? ELSE start_us END, "
                   "complete_us = CASE WHEN ? THEN ? ELSE complete_us END WHERE id = ?",
                   {int64_t{status}, std::string(error), int64_t{status}, now,
                    int64_t{IsTerminal(status)}, now, id})
          .status());
  EASEL_ASSIGN_OR_RETURN(v1::Training training, LoadTraining(connection, id));
  ClearDatasetReportLists(training);  // events stay small; GetTraining has the lists
  v1::TrainingEvent event;
  event.mutable_status()->set_status(status);
  event.mutable_status()->set_error(std::string(error));
  *event.mutable_training() = std::move(training);
  return AppendEvent(connection, id, std::move(event));
}

absl::StatusOr<std::optional<v1::Training>> TrainingStore::FindByRequestId(
    std::string_view request_id) {
  std::optional<v1::Training> training;
  if (request_id.empty()) return training;
  EASEL_RETURN_IF_ERROR(database_.Read([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(Statement row,
                           connection.Query(absl::StrCat(kTrainingSelect, "WHERE request_id = ?"),
                                            {std::string(request_id)}));
    EASEL_ASSIGN_OR_RETURN(bool found, row.Step());
    if (found) {
      EASEL_ASSIGN_OR_RETURN(training, TrainingFromRow(row));
    }
    return absl::OkStatus();
  }));
  return training;
}

absl::StatusOr<std::optional<PreparedDatasetEntry>> TrainingStore::FindPrepared(
    Connection& connection, const NewTraining& request) {
  const std::string inputs = PreprocessInputsDigest(request.input);
  EASEL_ASSIGN_OR_RETURN(std::optional<PreparedDatasetEntry> prepared,
                         PreparedDatasets::Find(connection, request.dataset_sha256, inputs));
  if (prepared.has_value() && !blobs_.Contains(prepared->prepared_sha256)) {
    LogInfo(absl::StrCat("prepared dataset ", prepared->prepared_sha256,
                         " is missing from the blob store; preprocessing again"));
    EASEL_RETURN_IF_ERROR(PreparedDatasets::Forget(connection, request.dataset_sha256, inputs));
    prepared.reset();
  }
  return prepared;
}

absl::Status TrainingStore::UsePrepared(Connection& connection, std::string_view training_id,
                                        const PreparedDatasetEntry& prepared) {
  SqlValue report = prepared.report.empty() ? SqlValue(nullptr) : SqlValue(Blob{prepared.report});
  EASEL_RETURN_IF_ERROR(
      connection
          .Execute("UPDATE trainings SET prepared_sha256 = ?, dataset_report = ? WHERE id = ?",
                   {prepared.prepared_sha256, report, std::string(training_id)})
          .status());
  EASEL_RETURN_IF_ERROR(AppendLog(
      connection, training_id,
      absl::StrCat("dataset: reusing the prepared dataset of training ", prepared.training_id,
                   " (same archive and preprocessing inputs)")));
  return QueueTask(connection, training_id, v1::TASK_KIND_TRAIN);
}

absl::Status TrainingStore::QueueTask(Connection& connection, std::string_view training_id,
                                      v1::TaskKind kind) {
  const std::string id(training_id);
  EASEL_ASSIGN_OR_RETURN(
      Statement owner_row,
      connection.Query("SELECT substr(destination, 1, instr(destination, '/') - 1) "
                       "FROM trainings WHERE id = ?",
                       {id}));
  EASEL_ASSIGN_OR_RETURN(bool found, owner_row.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("training ", id, " not found"));
  const std::string owner = owner_row.Text(0);
  // The lowest rank still queued, and the owner's highest: the new task goes one past the
  // owner's last, but never ahead of the queue's front, so owners take turns.
  EASEL_ASSIGN_OR_RETURN(
      Statement ranks,
      connection.Query("SELECT (SELECT MIN(fair_rank) FROM tasks WHERE state = 'queued'), "
                       "(SELECT MAX(fair_rank) FROM tasks WHERE owner = ? AND state = 'queued')",
                       {owner}));
  EASEL_ASSIGN_OR_RETURN(bool ranked, ranks.Step());
  int64_t rank = ranked && !ranks.IsNull(0) ? ranks.Int(0) : 0;
  if (ranked && !ranks.IsNull(1)) rank = std::max(rank, ranks.Int(1) + 1);
  return connection
      .Execute("INSERT INTO tasks (id, training_id, kind, state, create_us, owner, fair_rank) "
               "VALUES (?, ?, ?, 'queued', ?, ?, ?)",
               {NewId(), id, int64_t{kind}, ToMicros(absl::Now()), owner, rank})
      .status();
}

absl::StatusOr<v1::Training> TrainingStore::Create(const NewTraining& request) {
  std::string input_json;
  auto printed = google::protobuf::util::MessageToJsonString(request.input, &input_json);
  if (!printed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("input: ", printed.ToString()));
  }
  v1::Training training;
  bool created = false;
  EASEL_RETURN_IF_ERROR(database_.Transact([&](Connection& connection) -> absl::Status {
    if (!request.request_id.empty()) {
      EASEL_ASSIGN_OR_RETURN(Statement row,
                             connection.Query("SELECT id FROM trainings WHERE request_id = ?",
                                              {request.request_id}));
      EASEL_ASSIGN_OR_RETURN(bool found, row.Step());
      if (found) {
        EASEL_ASSIGN_OR_RETURN(training, LoadTraining(connection, row.Text(0)));
        return absl::OkStatus();
      }
    }
    std::string id = NewId();
    int64_t now = ToMicros(absl::Now());
    SqlValue request_id =
        request.request_id.empty() ? SqlValue(nullptr) : SqlValue(request.request_id);
    EASEL_RETURN_IF_ERROR(
        connection
            .Execute("INSERT INTO trainings (id, model, version_id, destination, input_json, "
                     "dataset_sha256, base_model_dir, status, create_us, request_id, owner) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     {id, request.model, request.version_id, request.destination, input_json,
                      request.dataset_sha256, request.base_model_dir, int64_t{v1::STARTING}, now,
                      request_id, request.destination.substr(0, request.destination.find('/'))})
            .status());
    if (!request.webhook.empty()) {
      EASEL_RETURN_IF_ERROR(
          connection
              .Execute("INSERT INTO training_webhooks (training_id, url, events) VALUES (?, ?, ?)",
                       {id, request.webhook, nlohmann::json(request.webhook_events).dump()})
              .status());
    }
    EASEL_RETURN_IF_ERROR(SetStatus(connection, id, v1::STARTING, ""));
    EASEL_ASSIGN_OR_RETURN(std::optional<PreparedDatasetEntry> prepared,
                           FindPrepared(connection, request));
    if (prepared.has_value()) {
      EASEL_RETURN_IF_ERROR(UsePrepared(connection, id, *prepared));
    } else {
      EASEL_RETURN_IF_ERROR(QueueTask(connection, id, v1::TASK_KIND_PREPROCESS));
    }
    EASEL_ASSIGN_OR_RETURN(training, LoadTraining(connection, id));
    created = true;
    return absl::OkStatus();
  }));
  if (created) {
    LogInfo(absl::StrCat("training ", training.id(), " created: ", request.model, ":",
                         request.version_id, " -> ", request.destination));
    notifiers_.events.Notify();
    notifiers_.tasks.Notify();
  }
  return training;
}

absl::StatusOr<v1::Training> TrainingStore::Get(std::string_view id) {
  v1::Training training;
  EASEL_RETURN_IF_ERROR(database_.Read([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(training, LoadTraining(connection, id));
    return absl::OkStatus();
  }));
  return training;
}

absl::StatusOr<v1::ListTrainingsResponse> TrainingStore::List(
    const v1::ListTrainingsRequest& request, const OwnerScope& scope) {
  EASEL_ASSIGN_OR_RETURN(int page_size, ClampPageSize(request.page_size()));
  EASEL_ASSIGN_OR_RETURN(int64_t before, DecodePageToken(request.page_token()));
  if (before == 0) before = std::numeric_limits<int64_t>::max();
  v1::ListTrainingsResponse response;
  EASEL_RETURN_IF_ERROR(database_.Read([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(
        Statement row,
        connection.Query(absl::StrCat(kTrainingSelect,
                                      "WHERE seq < ? AND (? OR owner IN "
                                      "(SELECT value FROM json_each(?))) "
                                      "ORDER BY seq DESC LIMIT ?"),
                         {before, int64_t{scope.all}, nlohmann::json(scope.owners).dump(),
                          int64_t{page_size + 1}}));
    int64_t last_seq = 0;
    while (true) {
      EASEL_ASSIGN_OR_RETURN(bool more, row.Step());
      if (!more) break;
      if (response.trainings_size() == page_size) {
        response.set_next_page_token(EncodePageToken(last_seq));
        break;
      }
      v1::Training* training = response.add_trainings();
      EASEL_ASSIGN_OR_RETURN(*training, TrainingFromRow(row));
      ClearDatasetReportLists(*training);  // counts only; GetTraining has the lists
      last_seq = row.Int(0);
    }
    return absl::OkStatus();
  }));
  return response;
}

absl::StatusOr<v1::Training> TrainingStore::Cancel(std::string_view id) {
  v1::Training training;
  EASEL_RETURN_IF_ERROR(database_.Transact([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(training, LoadTraining(connection, id));
    if (IsTerminal(training.status())) {
      return absl::FailedPreconditionError(
          absl::StrCat("training ", std::string(id), " has already finished (",
                       absl::AsciiStrToLower(v1::TrainingStatus_Name(training.status())),
                       "); only a starting or processing training can be canceled"));
    }
    EASEL_ASSIGN_OR_RETURN(int canceled,
                           connection.Execute("UPDATE tasks SET state = 'canceled' "
                                              "WHERE training_id = ? AND state = 'queued'",
                                              {std::string(id)}));
    if (canceled > 0) {
      EASEL_RETURN_IF_ERROR(SetStatus(connection, id, v1::CANCELED, ""));
    } else {
      EASEL_RETURN_IF_ERROR(connection
                                .Execute("UPDATE tasks SET cancel_requested = 1 "
                                         "WHERE training_id = ? AND state = 'leased'",
                                         {std::string(id)})
                                .status());
      EASEL_RETURN_IF_ERROR(AppendLog(connection, id, "cancel requested; stopping the worker"));
    }
    EASEL_ASSIGN_OR_RETURN(training, LoadTraining(connection, id));
    return absl::OkStatus();
  }));
  leases_.ForgetTraining(id);  // the next heartbeat reads cancel_requested from the store
  notifiers_.events.Notify();
  return training;
}

absl::StatusOr<std::vector<v1::TrainingEvent>> TrainingStore::EventsAfter(
    std::string_view id, int64_t after_sequence, int limit) {
  std::vector<v1::TrainingEvent> events;
  EASEL_RETURN_IF_ERROR(database_.Read([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(
        Statement row,
        connection.Query("SELECT event FROM training_events WHERE training_id = ? AND "
                         "sequence > ? ORDER BY sequence LIMIT ?",
                         {std::string(id), after_sequence, int64_t{limit}}));
    while (true) {
      EASEL_ASSIGN_OR_RETURN(bool more, row.Step());
      if (!more) break;
      v1::TrainingEvent& event = events.emplace_back();
      if (!event.ParseFromString(row.Text(0))) {
        return absl::DataLossError(absl::StrCat("training ", std::string(id), ": stored event is corrupt"));
      }
    }
    return absl::OkStatus();
  }));
  return events;
}

}  // namespace easel::coordinator
