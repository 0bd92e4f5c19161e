#ifndef EASEL_COORDINATOR_API_WORKER_SERVICE_H_
#define EASEL_COORDINATOR_API_WORKER_SERVICE_H_

#include "coordinator/auth/authenticator.h"
#include "coordinator/blobs/blob_store.h"
#include "coordinator/scheduler/task_queue.h"
#include "easel/v1/worker.grpc.pb.h"

namespace easel::coordinator {

class WorkerServiceImpl final : public v1::WorkerService::Service {
 public:
  WorkerServiceImpl(Authenticator& auth, TaskQueue& queue, BlobStore& blobs)
      : auth_(auth), queue_(queue), blobs_(blobs) {}

  grpc::Status RegisterWorker(grpc::ServerContext* context,
                              const v1::RegisterWorkerRequest* request,
                              v1::RegisterWorkerResponse* response) override;
  grpc::Status LeaseTask(grpc::ServerContext* context, const v1::LeaseTaskRequest* request,
                         v1::LeaseTaskResponse* response) override;
  grpc::Status Heartbeat(grpc::ServerContext* context, const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse* response) override;
  grpc::Status ReportProgress(grpc::ServerContext* context,
                              const v1::ReportProgressRequest* request,
                              v1::ReportProgressResponse* response) override;
  grpc::Status ReportDataset(grpc::ServerContext* context,
                             const v1::ReportDatasetRequest* request,
                             v1::ReportDatasetResponse* response) override;
  grpc::Status UploadOutput(grpc::ServerContext* context,
                            grpc::ServerReader<v1::UploadOutputRequest>* reader,
                            v1::OutputRef* response) override;
  grpc::Status ReportCheckpoint(grpc::ServerContext* context,
                                const v1::ReportCheckpointRequest* request,
                                v1::ReportCheckpointResponse* response) override;
  grpc::Status CompleteTask(grpc::ServerContext* context, const v1::CompleteTaskRequest* request,
                            v1::CompleteTaskResponse* response) override;
  grpc::Status FailTask(grpc::ServerContext* context, const v1::FailTaskRequest* request,
                        v1::FailTaskResponse* response) override;
  grpc::Status DownloadBlob(grpc::ServerContext* context, const v1::DownloadBlobRequest* request,
                            grpc::ServerWriter<v1::BlobChunk>* writer) override;

 private:
  absl::StatusOr<v1::OutputRef> ReceiveOutput(grpc::ServerReader<v1::UploadOutputRequest>& reader);

  Authenticator& auth_;
  TaskQueue& queue_;
  BlobStore& blobs_;
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_API_WORKER_SERVICE_H_
