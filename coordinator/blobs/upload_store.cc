#include "coordinator/blobs/upload_store.h"

#include <fstream>
#include <system_error>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "coordinator/blobs/durable_file.h"
#include "coordinator/registry/dataset_registry.h"
#include "coordinator/store/timestamps.h"

namespace easel::coordinator {
namespace {

// A zip (a local file header, or the end record of an empty zip), a gzip stream (a .tar.gz;
// easel-preprocess checks what is inside), or a POSIX tar ("ustar" at offset 257), by magic
// bytes. easel-preprocess applies the full checks.
bool LooksLikeArchive(const std::filesystem::path& path) {
  char head[512] = {};
  std::ifstream in(path, std::ios::binary);
  in.read(head, sizeof(head));
  const std::string_view bytes(head, static_cast<size_t>(in.gcount()));
  if (bytes.starts_with(std::string_view("PK\x03\x04", 4)) ||
      bytes.starts_with(std::string_view("PK\x05\x06", 4)) ||
      bytes.starts_with("\x1f\x8b")) {
    return true;
  }
  return bytes.size() >= 262 && bytes.substr(257, 5) == "ustar";
}

constexpr int64_t kSyncEveryBytes = int64_t{8} << 20;

absl::Status ValidateHeader(const v1::UploadHeader& header) {
  const std::string& id = header.upload_id();
  bool id_ok = !id.empty() && id.size() <= 128 && id[0] != '.';
  for (char c : id) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_' || c == '.';
    if (!allowed) id_ok = false;
  }
  if (!id_ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "upload_id '", std::string(id), "' is invalid: use 1-128 characters of A-Z, a-z, 0-9, '-', '_', '.'"));
  }
  if (header.filename().empty() || header.filename().size() > 255) {
    return absl::InvalidArgumentError("filename must be 1-255 bytes long");
  }
  if (header.size_bytes() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("size_bytes must be positive, got ", header.size_bytes()));
  }
  if (header.size_bytes() > kMaxUploadBytes) {
    return absl::ResourceExhaustedError(absl::StrCat("size_bytes ", header.size_bytes(),
                                                     " exceeds the upload limit of ",
                                                     kMaxUploadBytes, " bytes (2 GiB)"));
  }
  if (!IsSha256Hex(header.sha256())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sha256 '", header.sha256(), "' must be 64 lowercase hex characters"));
  }
  return absl::OkStatus();
}

}  // namespace

UploadStore::UploadStore(Database& database, BlobStore& blobs, std::filesystem::path uploads_dir)
    : database_(database), blobs_(blobs), uploads_dir_(std::move(uploads_dir)) {
  std::error_code error;
  std::filesystem::create_directories(uploads_dir_, error);
}

std::filesystem::path UploadStore::PartPath(const std::string& upload_id) const {
  return uploads_dir_ / (upload_id + ".part");
}

absl::StatusOr<int64_t> UploadStore::Begin(const v1::UploadHeader& header, std::string_view owner,
                                           std::optional<v1::Dataset>* done) {
  int64_t committed = 0;
  EASEL_RETURN_IF_ERROR(database_.Transact([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(
        Statement row,
        connection.Query("SELECT size_bytes, sha256, committed_offset, complete, owner "
                         "FROM uploads WHERE upload_id = ?",
                         {header.upload_id()}));
    EASEL_ASSIGN_OR_RETURN(bool found, row.Step());
    if (!found) {
      return connection
          .Execute("INSERT INTO uploads (upload_id, filename, size_bytes, sha256, create_us, "
                   "owner) VALUES (?, ?, ?, ?, ?, ?)",
                   {header.upload_id(), header.filename(), header.size_bytes(), header.sha256(),
                    ToMicros(absl::Now()), std::string(owner)})
          .status();
    }
    if (row.Text(4) != owner) {
      return absl::AlreadyExistsError(absl::StrCat(
          "upload_id ", header.upload_id(), " is taken; choose another (a random one)"));
    }
    if (row.Int(0) != header.size_bytes() || row.Text(1) != header.sha256()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "upload ", header.upload_id(), " was started with size_bytes ", row.Int(0),
          " and sha256 ", row.Text(1), "; resume it with the same header or use a new upload_id"));
    }
    committed = row.Int(2);
    if (row.Int(3) != 0) {
      EASEL_ASSIGN_OR_RETURN(*done, DatasetRegistry::LoadDataset(connection, header.sha256()));
    }
    return absl::OkStatus();
  }));
  return committed;
}

absl::Status UploadStore::RecordOffset(const std::string& upload_id, int64_t offset) {
  return database_.Transact([&](Connection& connection) {
    return connection
        .Execute("UPDATE uploads SET committed_offset = ? WHERE upload_id = ?",
                 {offset, upload_id})
        .status();
  });
}

void UploadStore::Discard(const std::string& upload_id) {
  std::error_code error;
  std::filesystem::remove(PartPath(upload_id), error);
  database_
      .Transact([&](Connection& connection) {
        return connection.Execute("DELETE FROM uploads WHERE upload_id = ?", {upload_id})
            .status();
      })
      .IgnoreError();
}

absl::StatusOr<v1::Dataset> UploadStore::Receive(const v1::UploadHeader& header,
                                                 std::string_view owner, const ChunkSource& next) {
  EASEL_RETURN_IF_ERROR(ValidateHeader(header));
  const std::string& id = header.upload_id();
  {
    std::lock_guard<std::mutex> lock(active_mutex_);
    if (!active_.insert(id).second) {
      return absl::AbortedError(
          absl::StrCat("upload ", std::string(id), " is being received on another stream; retry later"));
    }
  }
  absl::Cleanup release = [&] {
    std::lock_guard<std::mutex> lock(active_mutex_);
    active_.erase(id);
  };

  std::optional<v1::Dataset> done;
  EASEL_ASSIGN_OR_RETURN(int64_t committed, Begin(header, owner, &done));
  if (done.has_value()) {
    while (true) {  // Drain what the client sends; the upload is already complete.
      EASEL_ASSIGN_OR_RETURN(std::optional<v1::UploadChunk> chunk, next());
      if (!chunk.has_value()) break;
    }
    return *done;
  }

  EASEL_ASSIGN_OR_RETURN(std::unique_ptr<AppendFile> part,
                         AppendFile::Open(PartPath(id), committed));
  int64_t durable = committed;
  auto persist = [&]() -> absl::Status {
    if (part->size() == durable) return absl::OkStatus();
    EASEL_RETURN_IF_ERROR(part->Sync());
    EASEL_RETURN_IF_ERROR(RecordOffset(id, part->size()));
    durable = part->size();
    return absl::OkStatus();
  };
  absl::Status stream_status = [&]() -> absl::Status {
    while (true) {
      EASEL_ASSIGN_OR_RETURN(std::optional<v1::UploadChunk> chunk, next());
      if (!chunk.has_value()) return absl::OkStatus();
      if (chunk->offset() != part->size()) {
        return absl::FailedPreconditionError(
            absl::StrCat("chunk offset ", chunk->offset(), " does not match the committed offset ",
                         part->size(), " of upload ", std::string(id), "; send from offset ", part->size()));
      }
      if (part->size() + static_cast<int64_t>(chunk->data().size()) > header.size_bytes()) {
        return absl::InvalidArgumentError(
            absl::StrCat("chunk at offset ", chunk->offset(), " of ", chunk->data().size(),
                         " bytes runs past size_bytes ", header.size_bytes()));
      }
      EASEL_RETURN_IF_ERROR(part->Append(chunk->data()));
      if (part->size() - durable >= kSyncEveryBytes) EASEL_RETURN_IF_ERROR(persist());
    }
  }();
  absl::Status persisted = persist();
  EASEL_RETURN_IF_ERROR(stream_status);
  EASEL_RETURN_IF_ERROR(persisted);
  if (part->size() < header.size_bytes()) {
    return absl::FailedPreconditionError(
        absl::StrCat("upload ", std::string(id), " is incomplete: committed offset ", part->size(), " of ",
                     header.size_bytes(), " bytes; resume with the same upload_id"));
  }
  part.reset();
  return Finish(header);
}

absl::StatusOr<v1::Dataset> UploadStore::Finish(const v1::UploadHeader& header) {
  const std::string& id = header.upload_id();
  std::filesystem::path part = PartPath(id);
  EASEL_ASSIGN_OR_RETURN(std::string actual, Sha256OfFile(part));
  if (actual != header.sha256()) {
    Discard(id);
    return absl::InvalidArgumentError(absl::StrCat("checksum mismatch: expected ",
                                                   header.sha256(), ", got ", actual));
  }
  if (!LooksLikeArchive(part)) {
    Discard(id);
    return absl::InvalidArgumentError(
        absl::StrCat(header.filename(), " is not a zip or tar archive"));
  }
  EASEL_RETURN_IF_ERROR(blobs_.AdoptVerifiedFile(part, actual));
  v1::Dataset dataset;
  EASEL_RETURN_IF_ERROR(database_.Transact([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(dataset, DatasetRegistry::RecordDataset(
                                        connection, actual, header.size_bytes(),
                                        header.filename()));
    return connection
        .Execute("UPDATE uploads SET committed_offset = size_bytes, complete = 1 "
                 "WHERE upload_id = ?",
                 {id})
        .status();
  }));
  return dataset;
}

absl::StatusOr<v1::Upload> UploadStore::GetUpload(std::string_view upload_id,
                                                  std::string_view owner) {
  v1::Upload upload;
  EASEL_RETURN_IF_ERROR(database_.Read([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(
        Statement row,
        connection.Query("SELECT upload_id, committed_offset, size_bytes, sha256, complete "
                         "FROM uploads WHERE upload_id = ? AND owner = ?",
                         {std::string(upload_id), std::string(owner)}));
    EASEL_ASSIGN_OR_RETURN(bool found, row.Step());
    if (!found) return absl::NotFoundError(absl::StrCat("upload ", std::string(upload_id), " not found"));
    upload.set_upload_id(row.Text(0));
    upload.set_committed_offset(row.Int(1));
    upload.set_size_bytes(row.Int(2));
    upload.set_sha256(row.Text(3));
    upload.set_complete(row.Int(4) != 0);
    return absl::OkStatus();
  }));
  return upload;
}

}  // namespace easel::coordinator
