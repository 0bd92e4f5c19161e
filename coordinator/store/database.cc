#include "coordinator/store/database.h"

#include <sqlite3.h>

#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "coordinator/store/migrations.h"

namespace easel::coordinator {
namespace {

absl::Status SqliteError(sqlite3* db, std::string_view what) {
  return absl::InternalError(absl::StrCat("database: ", std::string(what), ": ", sqlite3_errmsg(db)));
}

}  // namespace

void StatementCache::Return(sqlite3_stmt* stmt, Idle& idle) {
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  idle.push_back(stmt);
}

void StatementCache::Clear() {
  for (auto& [sql, idle] : idle_) {
    for (sqlite3_stmt* stmt : idle) sqlite3_finalize(stmt);
  }
  idle_.clear();
}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  if (idle_ != nullptr) {
    StatementCache::Return(stmt_, *idle_);
  } else {
    sqlite3_finalize(stmt_);
  }
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)), idle_(other.idle_) {}

absl::StatusOr<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  if (rc == SQLITE_CONSTRAINT) {
    return absl::AlreadyExistsError(absl::StrCat("database constraint: ", sqlite3_errmsg(db_)));
  }
  return SqliteError(db_, sqlite3_sql(stmt_));
}

int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::Double(int column) const { return sqlite3_column_double(stmt_, column); }

std::string Statement::Text(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || size == 0) return {};
  return std::string(static_cast<const char*>(data), size);
}

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

absl::StatusOr<Statement> Connection::Query(std::string_view sql,
                                            std::initializer_list<SqlValue> params) {
  sqlite3_stmt* stmt = nullptr;
  StatementCache::Idle* idle = cache_ != nullptr ? &cache_->For(sql) : nullptr;
  if (idle != nullptr && !idle->empty()) {
    stmt = idle->back();
    idle->pop_back();
  } else if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt,
                                nullptr) != SQLITE_OK) {
    return SqliteError(db_, absl::StrCat("prepare ", std::string(sql)));
  }
  Statement statement(db_, stmt, idle);
  int index = 1;
  for (const SqlValue& value : params) {
    int rc = SQLITE_OK;
    if (std::holds_alternative<std::nullptr_t>(value)) {
      rc = sqlite3_bind_null(stmt, index);
    } else if (const int64_t* i = std::get_if<int64_t>(&value)) {
      rc = sqlite3_bind_int64(stmt, index, *i);
    } else if (const double* d = std::get_if<double>(&value)) {
      rc = sqlite3_bind_double(stmt, index, *d);
    } else if (const std::string* s = std::get_if<std::string>(&value)) {
      rc = sqlite3_bind_text64(stmt, index, s->data(), s->size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    } else {
      const std::string& bytes = std::get<Blob>(value).bytes;
      rc = sqlite3_bind_blob64(stmt, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
    }
    if (rc != SQLITE_OK) return SqliteError(db_, absl::StrCat("bind parameter ", index));
    ++index;
  }
  return statement;
}

absl::StatusOr<int> Connection::Execute(std::string_view sql,
                                        std::initializer_list<SqlValue> params) {
  EASEL_ASSIGN_OR_RETURN(Statement statement, Query(sql, params));
  while (true) {
    EASEL_ASSIGN_OR_RETURN(bool row, statement.Step());
    if (!row) break;
  }
  return sqlite3_changes(db_);
}

absl::Status Connection::ExecScript(const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error != nullptr ? error : "unknown error";
    sqlite3_free(error);
    return absl::InternalError(absl::StrCat("database: ", message));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const std::filesystem::path& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::UnavailableError(
        absl::StrCat("cannot open database ", path.string(), ": ", message));
  }
  std::unique_ptr<Database> database(new Database(db));
  Connection connection(db);  // without the cache: the migrations run once
  EASEL_RETURN_IF_ERROR(connection.ExecScript(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
  sqlite3_busy_timeout(db, 5000);
  EASEL_RETURN_IF_ERROR(ApplyMigrations(connection));
  return database;
}

Database::~Database() {
  statements_.Clear();
  sqlite3_close(db_);
}

absl::Status Database::Transact(const std::function<absl::Status(Connection&)>& fn,
                                Durability durability) {
  std::lock_guard<std::mutex> lock(mutex_);
  Connection connection(db_, &statements_);
  if (durability == Durability::kRelaxed) {
    EASEL_RETURN_IF_ERROR(connection.Execute("PRAGMA synchronous=NORMAL").status());
  }
  absl::Cleanup full_again = [&] {
    if (durability == Durability::kRelaxed) {
      connection.Execute("PRAGMA synchronous=FULL").IgnoreError();
    }
  };
  EASEL_RETURN_IF_ERROR(connection.Execute("BEGIN IMMEDIATE").status());
  absl::Status status;
  try {
    status = fn(connection);
  } catch (const std::exception& e) {
    status = absl::InternalError(absl::StrCat("unexpected error: ", e.what()));
  }
  if (!status.ok()) {
    connection.Execute("ROLLBACK").IgnoreError();
    return status;
  }
  absl::Status commit = connection.Execute("COMMIT").status();
  if (!commit.ok()) connection.Execute("ROLLBACK").IgnoreError();
  return commit;
}

absl::Status Database::Read(const std::function<absl::Status(Connection&)>& fn) {
  std::lock_guard<std::mutex> lock(mutex_);
  Connection connection(db_, &statements_);
  try {
    return fn(connection);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("unexpected error: ", e.what()));
  }
}

}  // namespace easel::coordinator
