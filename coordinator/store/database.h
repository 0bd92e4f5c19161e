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
#include <unordered_map>
#include <variant>
#include <vector>

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

// Prepared statements kept for reuse, by their SQL text. Used under the Database's lock only.
class StatementCache {
 public:
  using Idle = std::vector<sqlite3_stmt*>;

  StatementCache() = default;
  ~StatementCache() { Clear(); }
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  // The idle statements of `sql` (empty when none); a statement taken from them goes back
  // through Return.
  Idle& For(std::string_view sql) { return idle_[std::string(sql)]; }
  // Resets the statement and keeps it in `idle`.
  static void Return(sqlite3_stmt* stmt, Idle& idle);
  void Clear();  // finalizes every kept statement

 private:
  std::unordered_map<std::string, Idle> idle_;  // node-based: Idle& stays valid
};

class Statement {
 public:
  // Finalized at the end, or returned to `idle` when given.
  Statement(sqlite3* db, sqlite3_stmt* stmt, StatementCache::Idle* idle = nullptr)
      : db_(db), stmt_(stmt), idle_(idle) {}
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
  StatementCache::Idle* idle_;
};

// A connection inside a Database lock (and, for Transact, inside a transaction).
class Connection {
 public:
  // Statements are prepared once per SQL text and reused when `cache` is given.
  explicit Connection(sqlite3* db, StatementCache* cache = nullptr) : db_(db), cache_(cache) {}

  absl::StatusOr<Statement> Query(std::string_view sql, std::initializer_list<SqlValue> params = {});
  // Runs a statement to completion; returns the number of rows it changed.
  absl::StatusOr<int> Execute(std::string_view sql, std::initializer_list<SqlValue> params = {});
  // Runs one or more statements without parameters.
  absl::Status ExecScript(const std::string& sql);

 private:
  sqlite3* db_;
  StatementCache* cache_;
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
  StatementCache statements_;  // guarded by mutex_
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_STORE_DATABASE_H_
