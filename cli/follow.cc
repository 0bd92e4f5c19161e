#include "cli/follow.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "cli/output.h"
#include "cli/progress_bar.h"
#include "easel/v1/trainings.grpc.pb.h"

namespace easel::cli {

absl::StatusOr<easel::v1::Training> FollowTraining(Connection& connection, const std::string& id,
                                                   const FollowOptions& options) {
  const bool tty = isatty(STDERR_FILENO) != 0;
  easel::v1::Training training;
  std::string phase;
  auto phase_start = std::chrono::steady_clock::now();
  int last_decile = -1;
  bool bar_drawn = false;
  auto clear_bar = [&] {
    if (bar_drawn && tty) std::fprintf(stderr, "\r\033[K");
    bar_drawn = false;
  };

  grpc::ClientContext context;
  easel::v1::WatchTrainingRequest request;
  request.set_id(id);
  auto reader = connection.trainings().WatchTraining(&context, request);
  easel::v1::TrainingEvent event;
  while (reader->Read(&event)) {
    if (event.has_training()) training = event.training();
    if (event.has_progress() && options.show_progress) {
      const easel::v1::Progress& progress = event.progress();
      if (progress.phase() != phase) {
        clear_bar();
        if (bar_drawn && !tty) std::fprintf(stderr, "\n");
        phase = progress.phase();
        phase_start = std::chrono::steady_clock::now();
        last_decile = -1;
      }
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - phase_start).count();
      const std::string line = FormatProgress(progress, elapsed);
      const int decile =
          progress.total() > 0 ? static_cast<int>(10 * progress.step() / progress.total()) : 0;
      if (tty) {
        std::fprintf(stderr, "\r\033[K%s", line.c_str());
        bar_drawn = true;
      } else if (decile != last_decile) {
        std::fprintf(stderr, "%s\n", line.c_str());
      }
      last_decile = decile;
    } else if (event.has_log() && options.show_logs) {
      clear_bar();
      std::printf("%s\n", event.log().text().c_str());
      std::fflush(stdout);
    } else if (event.has_status()) {
      clear_bar();
      if (options.show_progress) {
        std::fprintf(stderr, "Training %s: %s\n", id.c_str(),
                     StatusName(event.status().status()).c_str());
      }
    }
    std::fflush(stderr);
  }
  clear_bar();
  grpc::Status status = reader->Finish();
  if (!status.ok()) return connection.Check(status, "watching training " + id);

  easel::v1::GetTrainingRequest get;
  get.set_id(id);
  grpc::ClientContext get_context;
  grpc::Status got = connection.trainings().GetTraining(&get_context, get, &training);
  if (!got.ok()) return connection.Check(got, "getting training " + id);
  return training;
}

}  // namespace easel::cli
