#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/output.h"
#include "common/status_macros.h"

namespace easel::cli {
namespace {

struct Options {
  std::vector<std::string> owners;
  std::string role = "user";
  std::string description;
  std::string id;
  bool all = false;
  bool json = false;
};

std::string RoleName(easel::v1::TokenRole role) {
  return absl::AsciiStrToLower(easel::v1::TokenRole_Name(role));
}

absl::Status Create(CommandContext& command, const Options& options) {
  EASEL_ASSIGN_OR_RETURN(Connection connection, Connection::Open(command));
  easel::v1::CreateTokenRequest request;
  easel::v1::TokenRole role = easel::v1::USER;
  easel::v1::TokenRole_Parse(absl::AsciiStrToUpper(options.role), &role);
  request.set_role(role);
  for (const std::string& owner : options.owners) request.add_owners(owner);
  request.set_description(options.description);
  easel::v1::CreateTokenResponse response;
  grpc::ClientContext context;
  EASEL_RETURN_IF_ERROR(connection.Check(
      connection.tokens().CreateToken(&context, request, &response), "creating a token"));
  if (options.json) {
    std::printf("%s\n", ToJson(response).c_str());
    return absl::OkStatus();
  }
  std::fprintf(stderr, "Created %s token %s%s. It is shown once, below; keep it secret.\n",
               RoleName(response.token().role()).c_str(), response.token().id().c_str(),
               response.token().owners().empty()
                   ? ""
                   : absl::StrCat(" for ", absl::StrJoin(response.token().owners(), ", "))
                         .c_str());
  std::printf("%s\n", response.secret().c_str());
  return absl::OkStatus();
}

absl::Status List(CommandContext& command, const Options& options) {
  EASEL_ASSIGN_OR_RETURN(Connection connection, Connection::Open(command));
  easel::v1::ListTokensRequest request;
  request.set_include_revoked(options.all);
  easel::v1::ListTokensResponse response;
  grpc::ClientContext context;
  EASEL_RETURN_IF_ERROR(connection.Check(
      connection.tokens().ListTokens(&context, request, &response), "listing tokens"));
  if (options.json) {
    std::printf("%s\n", ToJson(response).c_str());
    return absl::OkStatus();
  }
  std::printf("%-14s %-7s %-20s %-24s %-24s %s\n", "ID", "ROLE", "OWNERS", "CREATED", "REVOKED",
              "DESCRIPTION");
  for (const auto& token : response.tokens()) {
    std::string owners = token.owners().empty() ? "-" : absl::StrJoin(token.owners(), ",");
    std::printf("%-14s %-7s %-20s %-24s %-24s %s\n", token.id().c_str(),
                RoleName(token.role()).c_str(), owners.c_str(),
                FormatTime(token.create_time()).c_str(), FormatTime(token.revoke_time()).c_str(),
                token.description().c_str());
  }
  return absl::OkStatus();
}

absl::Status Revoke(CommandContext& command, const Options& options) {
  EASEL_ASSIGN_OR_RETURN(Connection connection, Connection::Open(command));
  easel::v1::RevokeTokenRequest request;
  request.set_id(options.id);
  easel::v1::Token token;
  grpc::ClientContext context;
  EASEL_RETURN_IF_ERROR(connection.Check(connection.tokens().RevokeToken(&context, request, &token),
                                         "revoking token " + options.id));
  std::printf("Revoked token %s\n", token.id().c_str());
  return absl::OkStatus();
}

}  // namespace

void AddTokensCommands(CLI::App& app, CommandContext& command) {
  CLI::App* tokens = app.add_subcommand(
      "tokens", "Create, list and revoke API tokens (needs an admin token in EASEL_API_TOKEN)");
  tokens->require_subcommand(1);
  auto options = std::make_shared<Options>();
  auto report = [&command](const absl::Status& status) {
    if (!status.ok()) command.exit_code = ReportError(status);
  };

  CLI::App* create = tokens->add_subcommand(
      "create", "Create a token; prints its secret, once, on stdout");
  create->add_option("--owner", options->owners,
                     "Owner the token acts for (repeatable); required for user tokens");
  create->add_option("--role", options->role,
                     "user: the owners' models, datasets and trainings; worker: runs tasks "
                     "(easel-worker --token-file); admin: everything")
      ->capture_default_str()
      ->check(CLI::IsMember({"user", "worker", "admin"}));
  create->add_option("--description", options->description, "What the token is for");
  create->add_flag("--json", options->json, "Print JSON (with the secret)");
  create->footer(
      "Examples:\n"
      "  export EASEL_API_TOKEN=$(cat DATA_DIR/admin-token)   # the coordinator's --data-dir\n"
      "  easel tokens create --owner alice --description 'alice laptop'\n"
      "  easel tokens create --role worker > worker.token");
  create->callback([=, &command] { report(Create(command, *options)); });

  CLI::App* list = tokens->add_subcommand("list", "List tokens (never their secrets)");
  list->add_flag("--all", options->all, "Include revoked tokens");
  list->add_flag("--json", options->json, "Print JSON");
  list->footer("Example:\n  easel tokens list --all");
  list->callback([=, &command] { report(List(command, *options)); });

  CLI::App* revoke = tokens->add_subcommand("revoke", "Revoke a token; it stops working at once");
  revoke->add_option("id", options->id, "Token id (from easel tokens list)")->required();
  revoke->footer("Example:\n  easel tokens revoke 3kq9x2m4v7pa");
  revoke->callback([=, &command] { report(Revoke(command, *options)); });
}

}  // namespace easel::cli
