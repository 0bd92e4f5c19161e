#ifndef EASEL_TRAINER_WORKER_TASK_RUNNER_H_
#define EASEL_TRAINER_WORKER_TASK_RUNNER_H_

#include <atomic>
#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "easel/v1/worker.grpc.pb.h"

namespace easel::worker {

struct RunnerOptions {
  std::filesystem::path work_dir;
  std::filesystem::path preprocess_bin;
  std::filesystem::path trainer_bin;
  absl::Duration heartbeat_interval = absl::Seconds(15);
  absl::Duration stop_grace = absl::Seconds(10);
  bool keep_work_dirs = false;
};

// Runs one leased task as a child process, streaming its progress and logs:
//  - PREPROCESS: fetches the archive, runs easel-preprocess, reports the inclusion report,
//    uploads the packed prepared dataset and completes the task;
//  - TRAIN: fetches and unpacks the prepared dataset (and the checkpoint it resumes from),
//    runs easel-trainer, uploads each checkpoint it writes, uploads the weights and completes
//    the task.
// A failing child fails the task with the class and message it gave. A cancel command or a
// stale lease stops the child.
class TaskRunner {
 public:
  TaskRunner(easel::v1::WorkerService::Stub* stub, RunnerOptions options);

  // Returns the outcome of talking to the coordinator; the task's own failure is reported to
  // the coordinator and is not an error here.
  absl::Status Run(const easel::v1::Task& task);

  // Stops the running child (worker shutdown); the task is failed as infrastructure.
  void Shutdown();

 private:
  absl::Status Preprocess(const easel::v1::Task& task, const std::filesystem::path& dir);
  absl::Status Train(const easel::v1::Task& task, const std::filesystem::path& dir);

  easel::v1::WorkerService::Stub* stub_;
  RunnerOptions options_;
  std::atomic<bool> shutdown_{false};
};

}  // namespace easel::worker

#endif  // EASEL_TRAINER_WORKER_TASK_RUNNER_H_
