#ifndef EASEL_COORDINATOR_STORE_MIGRATIONS_H_
#define EASEL_COORDINATOR_STORE_MIGRATIONS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "coordinator/store/database.h"

namespace easel::coordinator {

// Applies every numbered migration newer than the schema_migrations table records, each in
// its own transaction. Idempotent.
absl::Status ApplyMigrations(Connection& connection);
// The same, stopping after `version` (tests build older schemas with it).
absl::Status ApplyMigrationsUpTo(Connection& connection, int version);

int LatestSchemaVersion();
absl::StatusOr<int> CurrentSchemaVersion(Connection& connection);

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_STORE_MIGRATIONS_H_
