#ifndef EASEL_COORDINATOR_API_TOKEN_SERVICE_H_
#define EASEL_COORDINATOR_API_TOKEN_SERVICE_H_

#include "coordinator/auth/authenticator.h"
#include "coordinator/auth/token_store.h"
#include "easel/v1/tokens.grpc.pb.h"

namespace easel::coordinator {

// Token management, for admin tokens only.
class TokenServiceImpl final : public v1::TokenService::Service {
 public:
  TokenServiceImpl(Authenticator& auth, TokenStore& tokens) : auth_(auth), tokens_(tokens) {}

  grpc::Status CreateToken(grpc::ServerContext* context, const v1::CreateTokenRequest* request,
                           v1::CreateTokenResponse* response) override;
  grpc::Status ListTokens(grpc::ServerContext* context, const v1::ListTokensRequest* request,
                          v1::ListTokensResponse* response) override;
  grpc::Status RevokeToken(grpc::ServerContext* context, const v1::RevokeTokenRequest* request,
                           v1::Token* response) override;

 private:
  Authenticator& auth_;
  TokenStore& tokens_;
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_API_TOKEN_SERVICE_H_
