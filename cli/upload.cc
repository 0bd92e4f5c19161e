#include "cli/upload.h"

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/status_macros.h"

namespace easel::cli {

namespace {
constexpr size_t kChunkBytes = 1 << 20;
}

absl::StatusOr<easel::v1::Dataset> UploadDataset(Connection& connection,
                                                 const std::filesystem::path& path,
                                                 bool show_progress) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    return absl::NotFoundError(absl::StrCat(path.string(), ": no such file"));
  }
  const int64_t size = static_cast<int64_t>(std::filesystem::file_size(path, error));
  EASEL_ASSIGN_OR_RETURN(std::string sha256, Sha256OfFile(path));

  easel::v1::GetUploadRequest query;
  query.set_upload_id(sha256);
  easel::v1::Upload existing;
  int64_t offset = 0;
  {
    grpc::ClientContext context;
    grpc::Status status = connection.datasets().GetUpload(&context, query, &existing);
    if (status.ok()) {
      offset = existing.committed_offset();
    } else if (status.error_code() != grpc::StatusCode::NOT_FOUND) {
      EASEL_RETURN_IF_ERROR(connection.Check(status, "checking for an earlier upload"));
    }
  }
  if (show_progress && offset > 0) {
    std::fprintf(stderr, "Resuming upload of %s at byte %lld\n", path.c_str(),
                 static_cast<long long>(offset));
  }

  grpc::ClientContext context;
  easel::v1::Dataset dataset;
  auto writer = connection.datasets().UploadDataset(&context, &dataset);
  easel::v1::UploadDatasetRequest header;
  header.mutable_header()->set_upload_id(sha256);
  header.mutable_header()->set_filename(path.filename().string());
  header.mutable_header()->set_size_bytes(size);
  header.mutable_header()->set_sha256(sha256);
  bool open = writer->Write(header);
  std::ifstream in(path, std::ios::binary);
  in.seekg(offset);
  std::string buffer(kChunkBytes, '\0');
  while (open && offset < size && in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto n = static_cast<size_t>(in.gcount());
    if (n == 0) break;
    easel::v1::UploadDatasetRequest chunk;
    chunk.mutable_chunk()->set_offset(offset);
    chunk.mutable_chunk()->set_data(buffer.data(), n);
    open = writer->Write(chunk);
    offset += static_cast<int64_t>(n);
    if (show_progress) {
      std::fprintf(stderr, "\rUploading %s: %lld/%lld bytes", path.filename().c_str(),
                   static_cast<long long>(offset), static_cast<long long>(size));
    }
  }
  if (show_progress) std::fprintf(stderr, "\n");
  writer->WritesDone();
  EASEL_RETURN_IF_ERROR(
      connection.Check(writer->Finish(), absl::StrCat("uploading ", path.string())));
  return dataset;
}

}  // namespace easel::cli
