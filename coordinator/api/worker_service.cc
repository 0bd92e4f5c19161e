#include "coordinator/api/worker_service.h"

#include <system_error>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "coordinator/api/blob_streaming.h"
#include "coordinator/api/grpc_status.h"
#include "coordinator/blobs/durable_file.h"

namespace easel::coordinator {
namespace {

constexpr int64_t kMaxOutputBytes = int64_t{64} << 30;

absl::Duration FromProto(const google::protobuf::Duration& duration) {
  return absl::Seconds(duration.seconds()) + absl::Nanoseconds(duration.nanos());
}

}  // namespace

grpc::Status WorkerServiceImpl::RegisterWorker(grpc::ServerContext* context,
                                               const v1::RegisterWorkerRequest* request,
                                               v1::RegisterWorkerResponse* response) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_RETURN_IF_ERROR(auth_.Worker(*context).status());
    EASEL_ASSIGN_OR_RETURN(*response, queue_.RegisterWorker(*request));
    return absl::OkStatus();
  });
}

grpc::Status WorkerServiceImpl::LeaseTask(grpc::ServerContext* context,
                                          const v1::LeaseTaskRequest* request,
                                          v1::LeaseTaskResponse* response) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_RETURN_IF_ERROR(auth_.Worker(*context).status());
    EASEL_ASSIGN_OR_RETURN(std::optional<v1::Task> task,
                           queue_.Lease(request->worker_id(),
                                        {request->idle_devices().begin(),
                                         request->idle_devices().end()},
                                        FromProto(request->wait()),
                                        [context] { return context->IsCancelled(); }));
    if (task.has_value()) *response->mutable_task() = std::move(*task);
    return absl::OkStatus();
  });
}

grpc::Status WorkerServiceImpl::Heartbeat(grpc::ServerContext* context,
                                          const v1::HeartbeatRequest* request,
                                          v1::HeartbeatResponse* response) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_RETURN_IF_ERROR(auth_.Worker(*context).status());
    EASEL_ASSIGN_OR_RETURN(*response, queue_.Heartbeat(request->task_id(), request->epoch()));
    return absl::OkStatus();
  });
}

grpc::Status WorkerServiceImpl::ReportProgress(grpc::ServerContext* context,
                                               const v1::ReportProgressRequest* request,
                                               v1::ReportProgressResponse* response) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_RETURN_IF_ERROR(auth_.Worker(*context).status());
    EASEL_ASSIGN_OR_RETURN(*response, queue_.ReportProgress(*request));
    return absl::OkStatus();
  });
}

grpc::Status WorkerServiceImpl::ReportDataset(grpc::ServerContext* context,
                                              const v1::ReportDatasetRequest* request,
                                              v1::ReportDatasetResponse* response) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_RETURN_IF_ERROR(auth_.Worker(*context).status());
    EASEL_ASSIGN_OR_RETURN(*response, queue_.ReportDataset(*request));
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::OutputRef> WorkerServiceImpl::ReceiveOutput(
    grpc::ServerReader<v1::UploadOutputRequest>& reader) {
  v1::UploadOutputRequest message;
  if (!reader.Read(&message) || !message.has_header()) {
    return absl::InvalidArgumentError("the first message of an output upload must carry the header");
  }
  const v1::OutputHeader header = message.header();
  if (header.name().empty()) return absl::InvalidArgumentError("name is required");
  if (header.size_bytes() < 0 || header.size_bytes() > kMaxOutputBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("size_bytes must be between 0 and ", kMaxOutputBytes));
  }
  if (!IsSha256Hex(header.sha256())) {
    return absl::InvalidArgumentError(
        absl::StrCat("sha256 '", header.sha256(), "' must be 64 lowercase hex characters"));
  }
  EASEL_RETURN_IF_ERROR(queue_.CheckLease(header.task_id(), header.epoch()));
  std::filesystem::path temp = blobs_.NewTempPath();
  absl::Cleanup remove_temp = [&] {
    std::error_code error;
    std::filesystem::remove(temp, error);
  };
  {
    EASEL_ASSIGN_OR_RETURN(std::unique_ptr<AppendFile> file, AppendFile::Open(temp, 0));
    while (reader.Read(&message)) {
      if (message.has_header()) {
        return absl::InvalidArgumentError("only the first message may carry a header");
      }
      if (file->size() + static_cast<int64_t>(message.data().size()) > header.size_bytes()) {
        return absl::InvalidArgumentError(
            absl::StrCat("output ", header.name(), " runs past size_bytes ", header.size_bytes()));
      }
      EASEL_RETURN_IF_ERROR(file->Append(message.data()));
    }
    if (file->size() != header.size_bytes()) {
      return absl::InvalidArgumentError(absl::StrCat("output ", header.name(), " ended after ",
                                                     file->size(), " of ", header.size_bytes(),
                                                     " bytes"));
    }
  }
  EASEL_RETURN_IF_ERROR(blobs_.PutFile(temp, header.sha256()));
  v1::OutputRef ref;
  ref.set_name(header.name());
  ref.set_sha256(header.sha256());
  ref.set_size_bytes(header.size_bytes());
  return ref;
}

grpc::Status WorkerServiceImpl::UploadOutput(grpc::ServerContext* context,
                                             grpc::ServerReader<v1::UploadOutputRequest>* reader,
                                             v1::OutputRef* response) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_RETURN_IF_ERROR(auth_.Worker(*context).status());
    EASEL_ASSIGN_OR_RETURN(*response, ReceiveOutput(*reader));
    return absl::OkStatus();
  });
}

grpc::Status WorkerServiceImpl::ReportCheckpoint(grpc::ServerContext* context,
                                                 const v1::ReportCheckpointRequest* request,
                                                 v1::ReportCheckpointResponse* response) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_RETURN_IF_ERROR(auth_.Worker(*context).status());
    EASEL_ASSIGN_OR_RETURN(*response, queue_.ReportCheckpoint(*request));
    return absl::OkStatus();
  });
}

grpc::Status WorkerServiceImpl::CompleteTask(grpc::ServerContext* context,
                                             const v1::CompleteTaskRequest* request,
                                             v1::CompleteTaskResponse* response) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_RETURN_IF_ERROR(auth_.Worker(*context).status());
    EASEL_ASSIGN_OR_RETURN(*response, queue_.Complete(*request));
    return absl::OkStatus();
  });
}

grpc::Status WorkerServiceImpl::FailTask(grpc::ServerContext* context,
                                         const v1::FailTaskRequest* request,
                                         v1::FailTaskResponse* /*response*/) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_RETURN_IF_ERROR(auth_.Worker(*context).status());
    return queue_.Fail(*request);
  });
}

grpc::Status WorkerServiceImpl::DownloadBlob(grpc::ServerContext* context,
                                             const v1::DownloadBlobRequest* request,
                                             grpc::ServerWriter<v1::BlobChunk>* writer) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_RETURN_IF_ERROR(auth_.Worker(*context).status());
    EASEL_ASSIGN_OR_RETURN(int64_t size, blobs_.Size(request->sha256()));
    if (request->offset() < 0 || request->offset() > size) {
      return absl::OutOfRangeError(absl::StrCat("offset ", request->offset(),
                                                " is outside blob ", request->sha256(), " of ",
                                                size, " bytes"));
    }
    return StreamFile(blobs_.PathFor(request->sha256()), request->offset(),
                      [&](int64_t offset, std::string data) {
                        v1::BlobChunk chunk;
                        chunk.set_offset(offset);
                        chunk.set_size_bytes(size);
                        chunk.set_data(std::move(data));
                        return writer->Write(chunk);
                      });
  });
}

}  // namespace easel::coordinator
