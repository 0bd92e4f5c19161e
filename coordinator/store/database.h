#ifndef EASEL_COORDINATOR_STORE_DATABASE_H_
#define EASEL_COORDINATOR_STORE_DATABASE_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <variant>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct sqlite3;
struct sqlite3_stmt;

namespace easel::coordinator {

// Bytes bound as a BLOB (serialized protos); std::string binds as TEXT.
struct Blob {
  std::string bytes;
};

using SqlValue = std::variant<std::nullptr_t, int64_t, double, std::string, Blob>;

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;

  // True while a row is available.
  absl::StatusOr<bool> Step();

  int64_t Int(int column) const;
  double Double(int column) const;
  std::string Text(int column) const;
  bool IsNull(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// A connection inside a Database lock (and, for Transact, inside a transaction).
class Connection {
 public:
  explicit Connection(sqlite3* db) : db_(db) {}

  absl::StatusOr<Statement> Query(std::string_view sql, std::initializer_list<SqlValue> params = {});
  // Runs a statement to completion; returns the number of rows it changed.
  absl::StatusOr<int> Execute(std::string_view sql, std::initializer_list<SqlValue> params = {});
  // Runs one or more statements without parameters.
  absl::Status ExecScript(const std::string& sql);

 private:
  sqlite3* db_;
};

// How a transaction's commit reaches the disk. kFull: fsynced before Transact returns.
// kRelaxed: written to the WAL and fsynced with the next full commit or checkpoint; a power
// loss may drop it, never reorder it. For writes that are safe to lose: heartbeats (leases
// are extended after a restart anyway) and progress reports.
enum class Durability { kFull, kRelaxed };

// One SQLite connection (WAL, synchronous=FULL, foreign keys) shared by all threads; each use
// holds its mutex.
class Database {
 public:
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::filesystem::path& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs `fn` in a BEGIN IMMEDIATE transaction; commits when it returns OK, else rolls back.
  absl::Status Transact(const std::function<absl::Status(Connection&)>& fn,
                        Durability durability = Durability::kFull);
  // Runs `fn` under the lock without a transaction (reads).
  absl::Status Read(const std::function<absl::Status(Connection&)>& fn);

 private:
  explicit Database(sqlite3* db) : db_(db) {}

  std::mutex mutex_;
  sqlite3* db_;
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_STORE_DATABASE_H_
