#ifndef EASEL_COORDINATOR_API_DATASET_SERVICE_H_
#define EASEL_COORDINATOR_API_DATASET_SERVICE_H_

#include "coordinator/auth/authenticator.h"
#include "coordinator/blobs/upload_store.h"
#include "coordinator/registry/dataset_registry.h"
#include "easel/v1/datasets.grpc.pb.h"

namespace easel::coordinator {

class DatasetServiceImpl final : public v1::DatasetService::Service {
 public:
  DatasetServiceImpl(Authenticator& auth, UploadStore& uploads, DatasetRegistry& datasets)
      : auth_(auth), uploads_(uploads), datasets_(datasets) {}

  grpc::Status UploadDataset(grpc::ServerContext* context,
                             grpc::ServerReader<v1::UploadDatasetRequest>* reader,
                             v1::Dataset* response) override;
  grpc::Status GetUpload(grpc::ServerContext* context, const v1::GetUploadRequest* request,
                         v1::Upload* response) override;
  grpc::Status GetDataset(grpc::ServerContext* context, const v1::GetDatasetRequest* request,
                          v1::Dataset* response) override;

 private:
  Authenticator& auth_;
  UploadStore& uploads_;
  DatasetRegistry& datasets_;
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_API_DATASET_SERVICE_H_
