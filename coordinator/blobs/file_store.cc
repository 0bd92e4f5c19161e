#include "coordinator/blobs/file_store.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "coordinator/registry/dataset_registry.h"
#include "coordinator/store/timestamps.h"
#include "nlohmann/json.hpp"

namespace easel::coordinator {
namespace {

constexpr char kFileSelect[] =
    "SELECT id, name, content_type, size, sha256, metadata, create_us FROM files ";

StoredFile FileFromRow(const Statement& row) {
  return StoredFile{.id = row.Text(0),
                    .name = row.Text(1),
                    .content_type = row.Text(2),
                    .size = row.Int(3),
                    .sha256 = row.Text(4),
                    .metadata_json = row.Text(5),
                    .create_us = row.Int(6)};
}

// The owners a caller's files belong to; admins upload as the owner "".
std::vector<std::string> FileOwners(const Principal& caller) {
  return caller.is_admin() ? std::vector<std::string>{""} : caller.owners();
}

// SQL condition (and its parameter) that a file is visible to the caller.
std::string VisibleClause(const Principal& caller) {
  return caller.is_admin()
             ? "1"
             : "id IN (SELECT file_id FROM file_owners WHERE owner IN (SELECT value FROM "
               "json_each(?)))";
}

}  // namespace

absl::StatusOr<StoredFile> FileStore::Create(const Principal& caller, const NewFile& file,
                                             std::string_view bytes) {
  if (static_cast<int64_t>(bytes.size()) > kMaxFileBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("file ", file.name, " is ", bytes.size(), " bytes; the limit is ",
                     kMaxFileBytes, " (upload bigger datasets with easel train key=@file)"));
  }
  EASEL_ASSIGN_OR_RETURN(std::string sha256, blobs_.Put(bytes));
  StoredFile stored{.id = NewId(),
                    .name = file.name,
                    .content_type = file.content_type,
                    .size = static_cast<int64_t>(bytes.size()),
                    .sha256 = sha256,
                    .metadata_json = file.metadata_json,
                    .create_us = ToMicros(absl::Now())};
  EASEL_RETURN_IF_ERROR(database_.Transact([&](Connection& connection) -> absl::Status {
    EASEL_RETURN_IF_ERROR(
        connection
            .Execute("INSERT INTO files (id, name, content_type, size, sha256, metadata, "
                     "create_us) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     {stored.id, stored.name, stored.content_type, stored.size, stored.sha256,
                      stored.metadata_json, stored.create_us})
            .status());
    EASEL_RETURN_IF_ERROR(
        DatasetRegistry::RecordDataset(connection, sha256, stored.size, stored.name).status());
    for (const std::string& owner : FileOwners(caller)) {
      EASEL_RETURN_IF_ERROR(
          connection
              .Execute("INSERT INTO file_owners (file_id, owner) VALUES (?, ?)", {stored.id, owner})
              .status());
      if (owner.empty()) continue;
      EASEL_RETURN_IF_ERROR(connection
                                .Execute("INSERT OR IGNORE INTO dataset_grants (sha256, owner) "
                                         "VALUES (?, ?)",
                                         {sha256, owner})
                                .status());
    }
    return absl::OkStatus();
  }));
  return stored;
}

absl::StatusOr<StoredFile> FileStore::Get(const Principal& caller, std::string_view id) {
  StoredFile file;
  EASEL_RETURN_IF_ERROR(database_.Read([&](Connection& connection) -> absl::Status {
    std::string sql = absl::StrCat(kFileSelect, "WHERE id = ? AND ", VisibleClause(caller));
    auto rows =
        caller.is_admin()
            ? connection.Query(sql, {std::string(id)})
            : connection.Query(sql, {std::string(id), nlohmann::json(caller.owners()).dump()});
    EASEL_RETURN_IF_ERROR(rows.status());
    EASEL_ASSIGN_OR_RETURN(bool found, rows->Step());
    if (!found) return absl::NotFoundError(absl::StrCat("file ", std::string(id), " not found"));
    file = FileFromRow(*rows);
    return absl::OkStatus();
  }));
  return file;
}

absl::StatusOr<std::vector<StoredFile>> FileStore::List(const Principal& caller, int limit,
                                                        int64_t before_us) {
  std::vector<StoredFile> files;
  EASEL_RETURN_IF_ERROR(database_.Read([&](Connection& connection) -> absl::Status {
    std::string sql = absl::StrCat(kFileSelect, "WHERE (? = 0 OR create_us < ?) AND ",
                                   VisibleClause(caller), " ORDER BY create_us DESC LIMIT ?");
    int64_t count = limit;
    auto rows = caller.is_admin()
                    ? connection.Query(sql, {before_us, before_us, count})
                    : connection.Query(sql, {before_us, before_us,
                                             nlohmann::json(caller.owners()).dump(), count});
    EASEL_RETURN_IF_ERROR(rows.status());
    while (true) {
      EASEL_ASSIGN_OR_RETURN(bool found, rows->Step());
      if (!found) break;
      files.push_back(FileFromRow(*rows));
    }
    return absl::OkStatus();
  }));
  return files;
}

absl::Status FileStore::Delete(const Principal& caller, std::string_view id) {
  EASEL_RETURN_IF_ERROR(Get(caller, id).status());
  // The bytes stay: a dataset recorded from them may be trained on.
  return database_.Transact([&](Connection& connection) -> absl::Status {
    EASEL_RETURN_IF_ERROR(
        connection.Execute("DELETE FROM file_owners WHERE file_id = ?", {std::string(id)})
            .status());
    return connection.Execute("DELETE FROM files WHERE id = ?", {std::string(id)}).status();
  });
}

}  // namespace easel::coordinator
