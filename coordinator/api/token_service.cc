#include "coordinator/api/token_service.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "coordinator/api/grpc_status.h"
#include "coordinator/log.h"

namespace easel::coordinator {

grpc::Status TokenServiceImpl::CreateToken(grpc::ServerContext* context,
                                           const v1::CreateTokenRequest* request,
                                           v1::CreateTokenResponse* response) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(Principal caller, auth_.Admin(*context));
    EASEL_ASSIGN_OR_RETURN(*response, tokens_.Create(*request));
    LogInfo(absl::StrCat("token ", response->token().id(), " (",
                         v1::TokenRole_Name(response->token().role()), ") created by token ",
                         caller.token_id()));
    return absl::OkStatus();
  });
}

grpc::Status TokenServiceImpl::ListTokens(grpc::ServerContext* context,
                                          const v1::ListTokensRequest* request,
                                          v1::ListTokensResponse* response) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_RETURN_IF_ERROR(auth_.Admin(*context).status());
    EASEL_ASSIGN_OR_RETURN(*response, tokens_.List(request->include_revoked()));
    return absl::OkStatus();
  });
}

grpc::Status TokenServiceImpl::RevokeToken(grpc::ServerContext* context,
                                           const v1::RevokeTokenRequest* request,
                                           v1::Token* response) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(Principal caller, auth_.Admin(*context));
    EASEL_ASSIGN_OR_RETURN(*response, tokens_.Revoke(request->id()));
    LogInfo(absl::StrCat("token ", request->id(), " revoked by token ", caller.token_id()));
    return absl::OkStatus();
  });
}

}  // namespace easel::coordinator
