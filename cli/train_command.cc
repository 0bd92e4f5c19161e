#include <spawn.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/follow.h"
#include "cli/inputs.h"
#include "cli/output.h"
#include "cli/refs.h"
#include "cli/upload.h"
#include "common/status_macros.h"

namespace easel::cli {
namespace {

struct TrainOptions {
  std::string base;
  std::string destination;
  std::vector<std::string> inputs;
  std::string request_id;
  bool follow = false;
  bool json = false;
  bool create_destination = false;
  bool web = false;
};

// Prints the training's web page and opens it in a browser when there is a display.
absl::Status ShowWebPage(const easel::v1::Training& training) {
  if (training.web_url().empty()) {
    return absl::FailedPreconditionError(
        "the coordinator serves no web pages (start it with --http-listen)");
  }
  std::printf("%s\n", training.web_url().c_str());
  std::fflush(stdout);
  const char* display = std::getenv("DISPLAY");
  const char* wayland = std::getenv("WAYLAND_DISPLAY");
  if ((display != nullptr && *display != '\0') || (wayland != nullptr && *wayland != '\0')) {
    std::string url = training.web_url();
    char opener[] = "xdg-open";
    char* argv[] = {opener, url.data(), nullptr};
    pid_t pid = 0;
    posix_spawnp(&pid, opener, nullptr, nullptr, argv, environ);  // no browser: the URL is printed
  }
  return absl::OkStatus();
}

absl::Status EnsureDestination(Connection& connection, const ModelRef& destination) {
  easel::v1::GetModelRequest get;
  get.set_model(destination.model());
  easel::v1::Model model;
  grpc::ClientContext context;
  grpc::Status status = connection.models().GetModel(&context, get, &model);
  if (status.error_code() != grpc::StatusCode::NOT_FOUND) {
    return connection.Check(status, "looking up " + destination.model());
  }
  easel::v1::CreateModelRequest create;
  create.set_owner(destination.owner);
  create.set_name(destination.name);
  grpc::ClientContext create_context;
  return connection.Check(connection.models().CreateModel(&create_context, create, &model),
                          "creating " + destination.model());
}

absl::Status Train(const TrainOptions& options, CommandContext& command) {
  EASEL_ASSIGN_OR_RETURN(Connection connection, Connection::Open(command));
  EASEL_ASSIGN_OR_RETURN(ModelRef base, ParseModelRef(options.base));
  EASEL_ASSIGN_OR_RETURN(ModelRef destination,
                         ParseModelRef(options.destination, /*allow_version=*/false));
  if (options.create_destination) EASEL_RETURN_IF_ERROR(EnsureDestination(connection, destination));

  auto upload = [&](const std::string& path) -> absl::StatusOr<std::string> {
    EASEL_ASSIGN_OR_RETURN(easel::v1::Dataset dataset,
                           UploadDataset(connection, path, /*show_progress=*/!options.json));
    return dataset.name();
  };
  easel::v1::CreateTrainingRequest request;
  EASEL_ASSIGN_OR_RETURN(*request.mutable_input(), ParseInputs(options.inputs, upload));
  request.set_model(base.model());
  request.set_version(base.version);
  request.set_destination(destination.model());
  request.set_request_id(options.request_id);

  easel::v1::Training training;
  grpc::ClientContext context;
  EASEL_RETURN_IF_ERROR(connection.Check(
      connection.trainings().CreateTraining(&context, request, &training), "creating training"));
  if (!options.json) {
    std::fprintf(stderr, "Created training %s (easel trainings show %s)\n", training.id().c_str(),
                 training.id().c_str());
  }
  if (options.web) EASEL_RETURN_IF_ERROR(ShowWebPage(training));
  if (options.follow) {
    FollowOptions follow;
    follow.show_progress = !options.json;
    EASEL_ASSIGN_OR_RETURN(training, FollowTraining(connection, training.id(), follow));
  }
  if (options.json) {
    std::printf("%s\n", ToJson(training).c_str());
  } else if (options.follow) {
    PrintTraining(training);
  } else {
    std::printf("%s\n", training.id().c_str());
  }
  if (options.follow && training.status() != easel::v1::SUCCEEDED) {
    return absl::AbortedError("training " + training.id() + " " +
                              StatusName(training.status()) +
                              (training.error().empty() ? "" : ": " + training.error()));
  }
  return absl::OkStatus();
}

}  // namespace

void AddTrainCommand(CLI::App& app, CommandContext& command) {
  auto options = std::make_shared<TrainOptions>();
  CLI::App* train = app.add_subcommand("train", "Train a new version of a model");
  train->add_option("base", options->base, "Base model OWNER/NAME[:VERSION] (latest if omitted)")
      ->required();
  train->add_option("inputs", options->inputs,
                    "Inputs as key=value (JSON-decoded when valid) or key=@file (uploaded)");
  train->add_option("-d,--destination", options->destination,
                    "Model OWNER/NAME that receives the new version")
      ->required();
  train->add_option("--request-id", options->request_id,
                    "Idempotency key: repeating it returns the first training");
  train->add_flag("--follow", options->follow,
                  "Show live progress and wait; exit non-zero when the training fails");
  train->add_flag("--json", options->json, "Print the training as JSON");
  train->add_flag("--create-destination", options->create_destination,
                  "Create the destination model when it does not exist");
  train->add_flag("--web", options->web,
                  "Print the training's web page (and open it when there is a display)");
  train->footer(
      "Examples:\n"
      "  easel train easel/tiny -d alice/tok-lora input_images=@photos.zip max_train_steps=30 "
      "--follow\n"
      "  easel train easel/sd15:VERSION -d alice/dog input_images=@dog.zip token_string=SKS "
      "caption_prefix='a photo of SKS dog' learning_rate=1e-4 --json\n\n"
      "Inputs: input_images (required), token_string, caption_prefix, max_train_steps,\n"
      "learning_rate, lora_rank, lora_alpha, resolution, train_batch_size, lr_warmup_steps,\n"
      "seed. See docs/inputs.md.");
  train->callback([options, &command] {
    absl::Status status = Train(*options, command);
    if (!status.ok()) command.exit_code = ReportError(status);
  });
}

}  // namespace easel::cli
