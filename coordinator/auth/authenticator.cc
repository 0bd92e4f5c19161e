#include "coordinator/auth/authenticator.h"

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "grpcpp/server_context.h"

namespace easel::coordinator {

absl::StatusOr<Principal> Authenticator::FromHeader(std::string_view authorization) {
  if (tokens_ == nullptr) return Principal::Admin("");
  absl::string_view secret =
      absl::StripAsciiWhitespace(absl::string_view(authorization.data(), authorization.size()));
  if (!absl::ConsumePrefix(&secret, "Bearer ") && !absl::ConsumePrefix(&secret, "Token ")) {
    return absl::UnauthenticatedError(
        "this call needs an API token: send the header \"authorization: Bearer TOKEN\" (the "
        "easel command reads it from EASEL_API_TOKEN)");
  }
  secret = absl::StripAsciiWhitespace(secret);
  return tokens_->Authenticate(std::string_view(secret.data(), secret.size()));
}

absl::StatusOr<Principal> Authenticator::FromContext(const grpc::ServerContext& context) {
  const auto& metadata = context.client_metadata();
  auto header = metadata.find("authorization");
  if (header == metadata.end()) return FromHeader("");
  return FromHeader(std::string_view(header->second.data(), header->second.size()));
}

absl::StatusOr<Principal> Authenticator::User(const grpc::ServerContext& context) {
  EASEL_ASSIGN_OR_RETURN(Principal principal, FromContext(context));
  if (principal.role() == Role::kWorker) {
    return absl::PermissionDeniedError(
        "a worker token cannot use the public API; use a user token");
  }
  return principal;
}

absl::StatusOr<Principal> Authenticator::Worker(const grpc::ServerContext& context) {
  EASEL_ASSIGN_OR_RETURN(Principal principal, FromContext(context));
  if (principal.role() == Role::kUser) {
    return absl::PermissionDeniedError(
        "the worker API needs a worker token (easel tokens create --role worker)");
  }
  return principal;
}

absl::StatusOr<Principal> Authenticator::Admin(const grpc::ServerContext& context) {
  EASEL_ASSIGN_OR_RETURN(Principal principal, FromContext(context));
  if (!principal.is_admin()) {
    return absl::PermissionDeniedError("managing tokens needs an admin token");
  }
  return principal;
}

}  // namespace easel::coordinator
