#include <cstdio>

#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/follow.h"
#include "cli/output.h"
#include "common/status_macros.h"

namespace easel::cli {
namespace {

absl::StatusOr<easel::v1::Training> GetTraining(Connection& connection, const std::string& id) {
  easel::v1::GetTrainingRequest request;
  request.set_id(id);
  easel::v1::Training training;
  grpc::ClientContext context;
  EASEL_RETURN_IF_ERROR(connection.Check(
      connection.trainings().GetTraining(&context, request, &training), "training " + id));
  return training;
}

absl::Status List(CommandContext& command, int limit, bool json) {
  EASEL_ASSIGN_OR_RETURN(Connection connection, Connection::Open(command));
  easel::v1::ListTrainingsRequest request;
  request.set_page_size(std::min(limit, 100));
  easel::v1::ListTrainingsResponse response;
  grpc::ClientContext context;
  EASEL_RETURN_IF_ERROR(connection.Check(
      connection.trainings().ListTrainings(&context, request, &response), "listing trainings"));
  if (json) {
    std::printf("%s\n", ToJson(response).c_str());
    return absl::OkStatus();
  }
  std::printf("%-28s %-10s %-24s %-24s %s\n", "ID", "STATUS", "DESTINATION", "CREATED", "PROGRESS");
  for (const auto& t : response.trainings()) {
    std::string progress = "-";
    if (t.progress().total() > 0) {
      progress = std::to_string(t.progress().step()) + "/" + std::to_string(t.progress().total());
    }
    std::printf("%-28s %-10s %-24s %-24s %s\n", t.id().c_str(), StatusName(t.status()).c_str(),
                t.destination().c_str(), FormatTime(t.create_time()).c_str(), progress.c_str());
  }
  return absl::OkStatus();
}

absl::Status Show(CommandContext& command, const std::string& id, bool json) {
  EASEL_ASSIGN_OR_RETURN(Connection connection, Connection::Open(command));
  EASEL_ASSIGN_OR_RETURN(easel::v1::Training training, GetTraining(connection, id));
  if (json) {
    std::printf("%s\n", ToJson(training).c_str());
  } else {
    PrintTraining(training);
  }
  return absl::OkStatus();
}

absl::Status Cancel(CommandContext& command, const std::string& id) {
  EASEL_ASSIGN_OR_RETURN(Connection connection, Connection::Open(command));
  easel::v1::CancelTrainingRequest request;
  request.set_id(id);
  easel::v1::Training training;
  grpc::ClientContext context;
  EASEL_RETURN_IF_ERROR(connection.Check(
      connection.trainings().CancelTraining(&context, request, &training), "canceling " + id));
  std::printf("Training %s: %s\n", id.c_str(), StatusName(training.status()).c_str());
  return absl::OkStatus();
}

absl::Status Logs(CommandContext& command, const std::string& id, bool follow) {
  EASEL_ASSIGN_OR_RETURN(Connection connection, Connection::Open(command));
  if (!follow) {
    EASEL_ASSIGN_OR_RETURN(easel::v1::Training training, GetTraining(connection, id));
    std::fputs(training.logs().c_str(), stdout);
    return absl::OkStatus();
  }
  FollowOptions options;
  options.show_logs = true;
  options.show_progress = false;
  return FollowTraining(connection, id, options).status();
}

}  // namespace

void AddTrainingsCommands(CLI::App& app, CommandContext& command) {
  CLI::App* trainings = app.add_subcommand("trainings", "List, inspect and cancel trainings");
  trainings->require_subcommand(1);

  struct Options {
    std::string id;
    int limit = 20;
    bool json = false;
    bool follow = false;
  };
  auto options = std::make_shared<Options>();
  auto report = [&command](const absl::Status& status) {
    if (!status.ok()) command.exit_code = ReportError(status);
  };

  CLI::App* list = trainings->add_subcommand("list", "List recent trainings, newest first");
  list->add_option("--limit", options->limit, "How many to show (at most 100)")
      ->capture_default_str();
  list->add_flag("--json", options->json, "Print JSON");
  list->footer("Example:\n  easel trainings list --limit 5");
  list->callback([=, &command] { report(List(command, options->limit, options->json)); });

  CLI::App* show = trainings->add_subcommand("show", "Show one training");
  show->add_option("id", options->id, "Training id")->required();
  show->add_flag("--json", options->json, "Print JSON");
  show->footer("Example:\n  easel trainings show 7hq3m5n0v4t2a9c8x1e6r4w2ka");
  show->callback([=, &command] { report(Show(command, options->id, options->json)); });

  CLI::App* cancel = trainings->add_subcommand("cancel", "Cancel a training that has not ended");
  cancel->add_option("id", options->id, "Training id")->required();
  cancel->footer("Example:\n  easel trainings cancel 7hq3m5n0v4t2a9c8x1e6r4w2ka");
  cancel->callback([=, &command] { report(Cancel(command, options->id)); });

  CLI::App* logs = trainings->add_subcommand("logs", "Print a training's logs");
  logs->add_option("id", options->id, "Training id")->required();
  logs->add_flag("-f,--follow", options->follow, "Keep printing until the training ends");
  logs->footer("Example:\n  easel trainings logs --follow 7hq3m5n0v4t2a9c8x1e6r4w2ka");
  logs->callback([=, &command] { report(Logs(command, options->id, options->follow)); });
}

}  // namespace easel::cli
