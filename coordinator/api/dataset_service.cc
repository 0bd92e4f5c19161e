#include "coordinator/api/dataset_service.h"

#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "coordinator/api/grpc_status.h"

namespace easel::coordinator {
namespace {

// Uploads belong to the owners of the token that started them ("" for admins).
std::string UploadOwner(const Principal& caller) {
  return caller.is_admin() ? "" : absl::StrJoin(caller.owners(), ",");
}

}  // namespace

grpc::Status DatasetServiceImpl::UploadDataset(grpc::ServerContext* context,
                                               grpc::ServerReader<v1::UploadDatasetRequest>* reader,
                                               v1::Dataset* response) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(Principal caller, auth_.User(*context));
    v1::UploadDatasetRequest first;
    if (!reader->Read(&first) || !first.has_header()) {
      return absl::InvalidArgumentError("the first message of an upload must carry the header");
    }
    ChunkSource next = [&]() -> absl::StatusOr<std::optional<v1::UploadChunk>> {
      v1::UploadDatasetRequest message;
      if (!reader->Read(&message)) return std::nullopt;
      if (!message.has_chunk()) {
        return absl::InvalidArgumentError(
            "only the first message of an upload may carry a header; later ones carry chunks");
      }
      return std::move(*message.mutable_chunk());
    };
    EASEL_ASSIGN_OR_RETURN(*response,
                           uploads_.Receive(first.header(), UploadOwner(caller), next));
    return datasets_.Grant(response->sha256(), caller.owners());
  });
}

grpc::Status DatasetServiceImpl::GetUpload(grpc::ServerContext* context,
                                           const v1::GetUploadRequest* request,
                                           v1::Upload* response) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(Principal caller, auth_.User(*context));
    EASEL_ASSIGN_OR_RETURN(*response,
                           uploads_.GetUpload(request->upload_id(), UploadOwner(caller)));
    return absl::OkStatus();
  });
}

grpc::Status DatasetServiceImpl::GetDataset(grpc::ServerContext* context,
                                            const v1::GetDatasetRequest* request,
                                            v1::Dataset* response) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(Principal caller, auth_.User(*context));
    EASEL_ASSIGN_OR_RETURN(*response,
                           datasets_.GetDataset(request->name(), OwnerScope::Of(caller)));
    return absl::OkStatus();
  });
}

}  // namespace easel::coordinator
