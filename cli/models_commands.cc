#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/output.h"
#include "cli/refs.h"
#include "common/sha256.h"
#include "common/status_macros.h"

namespace easel::cli {
namespace {

struct Options {
  std::string ref;
  std::string description;
  std::string visibility;  // default: public for base models, else private
  std::string from_diffusers;
  std::string owner;
  std::string output;
  bool json = false;
};

absl::Status CreateModel(CommandContext& command, const Options& options) {
  EASEL_ASSIGN_OR_RETURN(Connection connection, Connection::Open(command));
  EASEL_ASSIGN_OR_RETURN(ModelRef ref, ParseModelRef(options.ref, /*allow_version=*/false));
  easel::v1::CreateModelRequest request;
  request.set_owner(ref.owner);
  request.set_name(ref.name);
  request.set_description(options.description);
  request.set_visibility(!options.visibility.empty()        ? options.visibility
                         : options.from_diffusers.empty() ? "private"
                                                          : "public");
  easel::v1::Model model;
  grpc::ClientContext context;
  grpc::Status created = connection.models().CreateModel(&context, request, &model);
  const bool exists = created.error_code() == grpc::StatusCode::ALREADY_EXISTS;
  if (!(exists && !options.from_diffusers.empty())) {
    EASEL_RETURN_IF_ERROR(connection.Check(created, "creating model " + ref.model()));
    std::printf("Created model %s\n", ref.model().c_str());
  }
  if (options.from_diffusers.empty()) return absl::OkStatus();

  easel::v1::ImportBaseVersionRequest import;
  import.set_model(ref.model());
  import.set_diffusers_dir(std::filesystem::absolute(options.from_diffusers).string());
  easel::v1::Version version;
  grpc::ClientContext import_context;
  EASEL_RETURN_IF_ERROR(
      connection.Check(connection.models().ImportBaseVersion(&import_context, import, &version),
                       "importing " + options.from_diffusers));
  std::printf("Imported %s as version %s:%s\n", options.from_diffusers.c_str(),
              ref.model().c_str(), version.id().c_str());
  return absl::OkStatus();
}

absl::Status ListModels(CommandContext& command, const Options& options) {
  EASEL_ASSIGN_OR_RETURN(Connection connection, Connection::Open(command));
  easel::v1::ListModelsRequest request;
  request.set_owner(options.owner);
  request.set_page_size(100);
  easel::v1::ListModelsResponse response;
  grpc::ClientContext context;
  EASEL_RETURN_IF_ERROR(connection.Check(
      connection.models().ListModels(&context, request, &response), "listing models"));
  if (options.json) {
    std::printf("%s\n", ToJson(response).c_str());
    return absl::OkStatus();
  }
  std::printf("%-32s %-9s %-28s %s\n", "MODEL", "VERSIONS", "LATEST", "DESCRIPTION");
  for (const auto& m : response.models()) {
    std::printf("%-32s %-9lld %-28s %s\n", (m.owner() + "/" + m.name()).c_str(),
                static_cast<long long>(m.version_count()),
                m.latest_version_id().empty() ? "-" : m.latest_version_id().c_str(),
                m.description().c_str());
  }
  return absl::OkStatus();
}

absl::Status ShowModel(CommandContext& command, const Options& options) {
  EASEL_ASSIGN_OR_RETURN(Connection connection, Connection::Open(command));
  EASEL_ASSIGN_OR_RETURN(ModelRef ref, ParseModelRef(options.ref, /*allow_version=*/false));
  easel::v1::GetModelRequest request;
  request.set_model(ref.model());
  easel::v1::Model model;
  grpc::ClientContext context;
  EASEL_RETURN_IF_ERROR(connection.Check(connection.models().GetModel(&context, request, &model),
                                         "model " + ref.model()));
  if (options.json) {
    std::printf("%s\n", ToJson(model).c_str());
    return absl::OkStatus();
  }
  std::printf("Model:       %s/%s\n", model.owner().c_str(), model.name().c_str());
  std::printf("Visibility:  %s\n", model.visibility().c_str());
  std::printf("Created:     %s\n", FormatTime(model.create_time()).c_str());
  std::printf("Versions:    %lld\n", static_cast<long long>(model.version_count()));
  std::printf("Latest:      %s\n",
              model.latest_version_id().empty() ? "-" : model.latest_version_id().c_str());
  if (!model.description().empty()) std::printf("Description: %s\n", model.description().c_str());
  return absl::OkStatus();
}

absl::Status ListVersions(CommandContext& command, const Options& options) {
  EASEL_ASSIGN_OR_RETURN(Connection connection, Connection::Open(command));
  EASEL_ASSIGN_OR_RETURN(ModelRef ref, ParseModelRef(options.ref, /*allow_version=*/false));
  easel::v1::ListVersionsRequest request;
  request.set_model(ref.model());
  request.set_page_size(100);
  easel::v1::ListVersionsResponse response;
  grpc::ClientContext context;
  EASEL_RETURN_IF_ERROR(connection.Check(
      connection.models().ListVersions(&context, request, &response), "versions of " + ref.model()));
  if (options.json) {
    std::printf("%s\n", ToJson(response).c_str());
    return absl::OkStatus();
  }
  for (const auto& version : response.versions()) PrintVersion(version);
  return absl::OkStatus();
}

absl::Status DownloadWeights(CommandContext& command, const Options& options) {
  EASEL_ASSIGN_OR_RETURN(Connection connection, Connection::Open(command));
  EASEL_ASSIGN_OR_RETURN(ModelRef ref, ParseModelRef(options.ref));
  easel::v1::DownloadWeightsRequest request;
  request.set_model(ref.model());
  request.set_version_id(ref.version);
  grpc::ClientContext context;
  auto reader = connection.models().DownloadWeights(&context, request);
  easel::v1::WeightsChunk chunk;
  std::filesystem::path path;
  std::filesystem::path temp;
  std::ofstream out;
  std::string expected_sha256;
  Sha256 digest;
  while (reader->Read(&chunk)) {
    if (!out.is_open()) {
      path = options.output.empty() ? std::filesystem::path(chunk.filename())
                                    : std::filesystem::path(options.output);
      temp = path.string() + ".part";
      expected_sha256 = chunk.sha256();
      out.open(temp, std::ios::binary | std::ios::trunc);
      if (!out) return absl::PermissionDeniedError("cannot write " + temp.string());
    }
    out.write(chunk.data().data(), static_cast<std::streamsize>(chunk.data().size()));
    digest.Update(chunk.data());
  }
  grpc::Status status = reader->Finish();
  out.close();
  if (!status.ok()) {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    return connection.Check(status, "downloading weights of " + options.ref);
  }
  if (temp.empty()) return absl::NotFoundError("the coordinator sent no weights");
  const std::string actual = digest.Hex();
  if (actual != expected_sha256) {
    return absl::DataLossError(absl::StrCat("downloaded weights are corrupt: expected sha256 ",
                                            expected_sha256, ", got ", actual));
  }
  std::filesystem::rename(temp, path);
  std::printf("%s\n", path.c_str());
  return absl::OkStatus();
}

}  // namespace

void AddModelsCommands(CLI::App& app, CommandContext& command) {
  auto options = std::make_shared<Options>();
  auto run = [&command, options](absl::Status (*fn)(CommandContext&, const Options&)) {
    return [&command, options, fn] {
      absl::Status status = fn(command, *options);
      if (!status.ok()) command.exit_code = ReportError(status);
    };
  };

  CLI::App* models = app.add_subcommand("models", "Create, list and show models");
  models->require_subcommand(1);
  CLI::App* create = models->add_subcommand("create", "Create a model (optionally with a base version)");
  create->add_option("model", options->ref, "OWNER/NAME")->required();
  create->add_option("--description", options->description, "What the model is");
  create->add_option("--visibility", options->visibility,
                     "private (only its owner's tokens see it) or public (every token can "
                     "read it and train from it); default: public with --from-diffusers, "
                     "else private")
      ->check(CLI::IsMember({"private", "public"}));
  create->add_option("--from-diffusers", options->from_diffusers,
                     "Import this diffusers-layout directory as a base version");
  create->footer(
      "Examples:\n  easel models create alice/tok-lora --description 'my face'\n"
      "  easel models create easel/tiny --from-diffusers ./easel-data/tiny-model");
  create->callback(run(CreateModel));

  CLI::App* list = models->add_subcommand("list", "List models");
  list->add_option("--owner", options->owner, "Only this owner's models");
  list->add_flag("--json", options->json, "Print JSON");
  list->footer("Example:\n  easel models list --owner alice");
  list->callback(run(ListModels));

  CLI::App* show = models->add_subcommand("show", "Show a model");
  show->add_option("model", options->ref, "OWNER/NAME")->required();
  show->add_flag("--json", options->json, "Print JSON");
  show->footer("Example:\n  easel models show alice/tok-lora");
  show->callback(run(ShowModel));

  CLI::App* versions = app.add_subcommand("versions", "List a model's versions");
  versions->require_subcommand(1);
  CLI::App* versions_list = versions->add_subcommand("list", "List versions, newest first");
  versions_list->add_option("model", options->ref, "OWNER/NAME")->required();
  versions_list->add_flag("--json", options->json, "Print JSON");
  versions_list->footer("Example:\n  easel versions list alice/tok-lora");
  versions_list->callback(run(ListVersions));

  CLI::App* weights = app.add_subcommand("weights", "Download trained weights");
  weights->require_subcommand(1);
  CLI::App* download = weights->add_subcommand("download", "Download a version's weights file");
  download->add_option("model", options->ref, "OWNER/NAME[:VERSION] (latest if omitted)")
      ->required();
  download->add_option("-o,--output", options->output, "File to write (default: server's name)");
  download->footer("Example:\n  easel weights download alice/tok-lora -o tok.safetensors");
  download->callback(run(DownloadWeights));
}

}  // namespace easel::cli
