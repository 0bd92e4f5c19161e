#include "coordinator/api/model_service.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "coordinator/api/blob_streaming.h"
#include "coordinator/api/grpc_status.h"
#include "coordinator/auth/access.h"

namespace easel::coordinator {

absl::StatusOr<v1::Model> ModelServiceImpl::ReadableModel(const Principal& caller,
                                                          std::string_view model) {
  EASEL_ASSIGN_OR_RETURN(v1::Model found, registry_.GetModel(model));
  EASEL_RETURN_IF_ERROR(CheckCanRead(caller, found));
  return found;
}

grpc::Status ModelServiceImpl::CreateModel(grpc::ServerContext* context,
                                           const v1::CreateModelRequest* request,
                                           v1::Model* response) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(Principal caller, auth_.User(*context));
    EASEL_RETURN_IF_ERROR(ValidateNamePart(request->owner(), "owner"));
    EASEL_RETURN_IF_ERROR(CheckActsFor(caller, request->owner()));
    EASEL_ASSIGN_OR_RETURN(*response, registry_.CreateModel(*request));
    return absl::OkStatus();
  });
}

grpc::Status ModelServiceImpl::GetModel(grpc::ServerContext* context,
                                        const v1::GetModelRequest* request, v1::Model* response) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(Principal caller, auth_.User(*context));
    EASEL_ASSIGN_OR_RETURN(*response, ReadableModel(caller, request->model()));
    return absl::OkStatus();
  });
}

grpc::Status ModelServiceImpl::ListModels(grpc::ServerContext* context,
                                          const v1::ListModelsRequest* request,
                                          v1::ListModelsResponse* response) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(Principal caller, auth_.User(*context));
    EASEL_ASSIGN_OR_RETURN(*response, registry_.ListModels(*request, OwnerScope::Of(caller)));
    return absl::OkStatus();
  });
}

grpc::Status ModelServiceImpl::ImportBaseVersion(grpc::ServerContext* context,
                                                 const v1::ImportBaseVersionRequest* request,
                                                 v1::Version* response) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(Principal caller, auth_.User(*context));
    if (!caller.is_admin()) {
      return absl::PermissionDeniedError(
          "importing a base model reads a directory on the coordinator's host; it needs an "
          "admin token");
    }
    EASEL_ASSIGN_OR_RETURN(*response, registry_.ImportBaseVersion(*request));
    return absl::OkStatus();
  });
}

grpc::Status ModelServiceImpl::ListVersions(grpc::ServerContext* context,
                                            const v1::ListVersionsRequest* request,
                                            v1::ListVersionsResponse* response) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(Principal caller, auth_.User(*context));
    EASEL_RETURN_IF_ERROR(ReadableModel(caller, request->model()).status());
    EASEL_ASSIGN_OR_RETURN(*response, registry_.ListVersions(*request));
    return absl::OkStatus();
  });
}

grpc::Status ModelServiceImpl::GetVersion(grpc::ServerContext* context,
                                          const v1::GetVersionRequest* request,
                                          v1::Version* response) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(Principal caller, auth_.User(*context));
    EASEL_RETURN_IF_ERROR(ReadableModel(caller, request->model()).status());
    EASEL_ASSIGN_OR_RETURN(*response,
                           registry_.GetVersion(request->model(), request->version_id()));
    return absl::OkStatus();
  });
}

grpc::Status ModelServiceImpl::DownloadWeights(grpc::ServerContext* context,
                                               const v1::DownloadWeightsRequest* request,
                                               grpc::ServerWriter<v1::WeightsChunk>* writer) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(Principal caller, auth_.User(*context));
    EASEL_RETURN_IF_ERROR(ReadableModel(caller, request->model()).status());
    EASEL_ASSIGN_OR_RETURN(v1::Version version,
                           registry_.GetVersion(request->model(), request->version_id()));
    if (version.weights_digest().empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "version ", version.model(), ":", version.id(),
          " is a base model (a diffusers directory at ", version.base_model_dir(),
          "); it has no weights file to download"));
    }
    EASEL_ASSIGN_OR_RETURN(int64_t size, blobs_.Size(version.weights_digest()));
    std::string name = version.model().substr(version.model().find('/') + 1);
    bool first = true;
    return StreamFile(blobs_.PathFor(version.weights_digest()), 0,
                      [&](int64_t /*offset*/, std::string data) {
                        v1::WeightsChunk chunk;
                        if (first) {
                          chunk.set_filename(absl::StrCat(std::string(name), "-", version.id(),
                                                          ".safetensors"));
                          chunk.set_size_bytes(size);
                          chunk.set_sha256(version.weights_digest());
                          first = false;
                        }
                        chunk.set_data(std::move(data));
                        return writer->Write(chunk);
                      });
  });
}

}  // namespace easel::coordinator
