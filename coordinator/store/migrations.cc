#include "coordinator/store/migrations.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace easel::coordinator {
namespace {

struct Migration {
  int version;
  const char* sql;
};

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> migrations = {
      {1, R"sql(
CREATE TABLE models (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  owner TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  visibility TEXT NOT NULL DEFAULT 'private',
  create_us INTEGER NOT NULL,
  UNIQUE (owner, name)
);
CREATE TABLE versions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  owner TEXT NOT NULL,
  name TEXT NOT NULL,
  create_us INTEGER NOT NULL,
  base_version TEXT NOT NULL DEFAULT '',
  weights_digest TEXT NOT NULL DEFAULT '',
  weights_size INTEGER NOT NULL DEFAULT 0,
  weights_format TEXT NOT NULL,
  trigger_tokens TEXT NOT NULL DEFAULT '[]',
  training_id TEXT UNIQUE,
  base_model_dir TEXT NOT NULL DEFAULT '',
  FOREIGN KEY (owner, name) REFERENCES models (owner, name)
);
CREATE INDEX versions_by_model ON versions (owner, name, seq);
CREATE TABLE datasets (
  sha256 TEXT PRIMARY KEY,
  size_bytes INTEGER NOT NULL,
  filename TEXT NOT NULL,
  create_us INTEGER NOT NULL
);
CREATE TABLE uploads (
  upload_id TEXT PRIMARY KEY,
  filename TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  committed_offset INTEGER NOT NULL DEFAULT 0,
  complete INTEGER NOT NULL DEFAULT 0,
  create_us INTEGER NOT NULL
);
CREATE TABLE trainings (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  model TEXT NOT NULL,
  version_id TEXT NOT NULL,
  destination TEXT NOT NULL,
  input_json TEXT NOT NULL,
  dataset_sha256 TEXT NOT NULL,
  base_model_dir TEXT NOT NULL,
  status INTEGER NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  logs TEXT NOT NULL DEFAULT '',
  output BLOB,
  progress BLOB,
  create_us INTEGER NOT NULL,
  start_us INTEGER,
  complete_us INTEGER,
  request_id TEXT UNIQUE,
  event_count INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE tasks (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  training_id TEXT NOT NULL REFERENCES trainings (id),
  kind INTEGER NOT NULL,
  state TEXT NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 0,
  epoch INTEGER NOT NULL DEFAULT 0,
  crashes INTEGER NOT NULL DEFAULT 0,
  worker_id TEXT NOT NULL DEFAULT '',
  lease_expire_us INTEGER NOT NULL DEFAULT 0,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  create_us INTEGER NOT NULL
);
CREATE INDEX tasks_by_state ON tasks (state, seq);
CREATE INDEX tasks_by_training ON tasks (training_id);
CREATE TABLE training_events (
  training_id TEXT NOT NULL REFERENCES trainings (id),
  sequence INTEGER NOT NULL,
  time_us INTEGER NOT NULL,
  event BLOB NOT NULL,
  PRIMARY KEY (training_id, sequence)
);
CREATE TABLE workers (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  devices BLOB NOT NULL,
  register_us INTEGER NOT NULL,
  last_seen_us INTEGER NOT NULL
);
)sql"},
      // The inclusion report of the prepared dataset: a serialized v1::DatasetReport.
      {2, R"sql(
ALTER TABLE trainings ADD COLUMN dataset_report BLOB;
)sql"},
      // Preprocessing becomes its own task (kind 2), and prepared datasets are cached by
      // (archive digest, preprocessing-inputs digest). Unfinished TRAIN tasks of older
      // trainings have no prepared dataset: they preprocess first.
      {3, R"sql(
ALTER TABLE trainings ADD COLUMN prepared_sha256 TEXT NOT NULL DEFAULT '';
CREATE TABLE prepared_datasets (
  archive_sha256 TEXT NOT NULL,
  inputs_sha256 TEXT NOT NULL,
  prepared_sha256 TEXT NOT NULL,
  report BLOB,
  training_id TEXT NOT NULL,
  create_us INTEGER NOT NULL,
  PRIMARY KEY (archive_sha256, inputs_sha256)
);
UPDATE tasks SET kind = 2 WHERE kind = 1 AND state IN ('queued', 'leased');
)sql"},
      // Retried tasks wait out a back-off: not leased before not_before_us.
      {4, R"sql(
ALTER TABLE tasks ADD COLUMN not_before_us INTEGER NOT NULL DEFAULT 0;
)sql"},
      // The latest complete checkpoint a TRAIN task reported; a retried attempt resumes there.
      {5, R"sql(
ALTER TABLE trainings ADD COLUMN checkpoint_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE trainings ADD COLUMN checkpoint_step INTEGER NOT NULL DEFAULT 0;
)sql"},
      // Fair queuing between owners (the destination's owner): tasks are leased in order of
      // fair_rank, then age. Tasks queued before get rank 0, so they keep their FIFO order.
      {6, R"sql(
ALTER TABLE tasks ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN fair_rank INTEGER NOT NULL DEFAULT 0;
UPDATE tasks SET owner = (SELECT substr(r.destination, 1, instr(r.destination, '/') - 1)
                          FROM trainings r WHERE r.id = tasks.training_id);
CREATE INDEX tasks_by_fair_rank ON tasks (state, fair_rank, seq);
CREATE INDEX tasks_by_owner ON tasks (owner, state, fair_rank);
)sql"},
      // Auth: API tokens (only their sha256 is kept); datasets usable by the owners who uploaded
      // them; uploads and trainings belong to an owner. Datasets uploaded before are granted
      // to the owners who trained on them.
      {7, R"sql(
CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  secret_sha256 TEXT NOT NULL UNIQUE,
  role INTEGER NOT NULL,
  owners TEXT NOT NULL DEFAULT '[]',
  description TEXT NOT NULL DEFAULT '',
  create_us INTEGER NOT NULL,
  revoke_us INTEGER
);
CREATE TABLE dataset_grants (
  sha256 TEXT NOT NULL REFERENCES datasets (sha256),
  owner TEXT NOT NULL,
  PRIMARY KEY (sha256, owner)
);
ALTER TABLE uploads ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE trainings ADD COLUMN owner TEXT NOT NULL DEFAULT '';
UPDATE trainings SET owner = substr(destination, 1, instr(destination, '/') - 1);
CREATE INDEX trainings_by_owner ON trainings (owner, seq);
INSERT OR IGNORE INTO dataset_grants (sha256, owner)
  SELECT t.dataset_sha256, t.owner FROM trainings t
  WHERE t.dataset_sha256 IN (SELECT sha256 FROM datasets);
)sql"},
      // The HTTP API: files (POST /v1/files) and their owners; webhooks of trainings and
      // their deliveries; each owner's webhook signing secret.
      {8, R"sql(
CREATE TABLE files (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  content_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  metadata TEXT NOT NULL DEFAULT '{}',
  create_us INTEGER NOT NULL
);
CREATE INDEX files_by_time ON files (create_us);
CREATE TABLE file_owners (
  file_id TEXT NOT NULL REFERENCES files (id),
  owner TEXT NOT NULL,
  PRIMARY KEY (file_id, owner)
);
CREATE TABLE training_webhooks (
  training_id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  events TEXT NOT NULL,
  cursor INTEGER NOT NULL DEFAULT 0,
  logs_sent_us INTEGER NOT NULL DEFAULT 0,
  done INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX training_webhooks_open ON training_webhooks (done);
CREATE TABLE webhook_deliveries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  training_id TEXT NOT NULL,
  event TEXT NOT NULL,
  url TEXT NOT NULL,
  body TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_us INTEGER NOT NULL,
  last_response TEXT NOT NULL DEFAULT '',
  create_us INTEGER NOT NULL,
  delivered_us INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_us);
CREATE INDEX webhook_deliveries_by_training ON webhook_deliveries (training_id, seq);
CREATE TABLE webhook_secrets (
  owner TEXT PRIMARY KEY,
  secret TEXT NOT NULL
);
)sql"},
  };
  return migrations;
}

}  // namespace

int LatestSchemaVersion() { return Migrations().back().version; }

absl::StatusOr<int> CurrentSchemaVersion(Connection& connection) {
  EASEL_ASSIGN_OR_RETURN(
      Statement statement,
      connection.Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
  EASEL_ASSIGN_OR_RETURN(bool row, statement.Step());
  return row ? static_cast<int>(statement.Int(0)) : 0;
}

absl::Status ApplyMigrations(Connection& connection) {
  return ApplyMigrationsUpTo(connection, LatestSchemaVersion());
}

absl::Status ApplyMigrationsUpTo(Connection& connection, int version) {
  EASEL_RETURN_IF_ERROR(connection.ExecScript(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY, applied_us INTEGER NOT NULL)"));
  for (const Migration& migration : Migrations()) {
    if (migration.version > version) break;
    EASEL_RETURN_IF_ERROR(connection.ExecScript("BEGIN IMMEDIATE"));
    absl::Status status = [&]() -> absl::Status {
      EASEL_ASSIGN_OR_RETURN(int current, CurrentSchemaVersion(connection));
      if (migration.version <= current) return absl::OkStatus();
      EASEL_RETURN_IF_ERROR(connection.ExecScript(migration.sql));
      EASEL_ASSIGN_OR_RETURN(
          int changed,
          connection.Execute("INSERT INTO schema_migrations (version, applied_us) "
                             "VALUES (?, CAST(strftime('%s','now') AS INTEGER) * 1000000)",
                             {int64_t{migration.version}}));
      (void)changed;
      return absl::OkStatus();
    }();
    if (!status.ok()) {
      connection.ExecScript("ROLLBACK").IgnoreError();
      return absl::Status(status.code(), absl::StrCat("schema migration ", migration.version,
                                                      ": ", status.message()));
    }
    EASEL_RETURN_IF_ERROR(connection.ExecScript("COMMIT"));
  }
  return absl::OkStatus();
}

}  // namespace easel::coordinator
