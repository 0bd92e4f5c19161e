#ifndef EASEL_COORDINATOR_API_MODEL_SERVICE_H_
#define EASEL_COORDINATOR_API_MODEL_SERVICE_H_

#include "coordinator/auth/authenticator.h"
#include "coordinator/blobs/blob_store.h"
#include "coordinator/registry/model_registry.h"
#include "easel/v1/models.grpc.pb.h"

namespace easel::coordinator {

class ModelServiceImpl final : public v1::ModelService::Service {
 public:
  ModelServiceImpl(Authenticator& auth, ModelRegistry& registry, BlobStore& blobs)
      : auth_(auth), registry_(registry), blobs_(blobs) {}

  grpc::Status CreateModel(grpc::ServerContext* context, const v1::CreateModelRequest* request,
                           v1::Model* response) override;
  grpc::Status GetModel(grpc::ServerContext* context, const v1::GetModelRequest* request,
                        v1::Model* response) override;
  grpc::Status ListModels(grpc::ServerContext* context, const v1::ListModelsRequest* request,
                          v1::ListModelsResponse* response) override;
  grpc::Status ImportBaseVersion(grpc::ServerContext* context,
                                 const v1::ImportBaseVersionRequest* request,
                                 v1::Version* response) override;
  grpc::Status ListVersions(grpc::ServerContext* context, const v1::ListVersionsRequest* request,
                            v1::ListVersionsResponse* response) override;
  grpc::Status GetVersion(grpc::ServerContext* context, const v1::GetVersionRequest* request,
                          v1::Version* response) override;
  grpc::Status DownloadWeights(grpc::ServerContext* context,
                               const v1::DownloadWeightsRequest* request,
                               grpc::ServerWriter<v1::WeightsChunk>* writer) override;

  // The model, when the caller may read it (for the HTTP API too).
  absl::StatusOr<v1::Model> ReadableModel(const Principal& caller, std::string_view model);

 private:
  Authenticator& auth_;
  ModelRegistry& registry_;
  BlobStore& blobs_;
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_API_MODEL_SERVICE_H_
