#ifndef EASEL_TRAINER_WORKER_CHILD_PROCESS_H_
#define EASEL_TRAINER_WORKER_CHILD_PROCESS_H_

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace easel::worker {

// How a child process ended.
struct ExitStatus {
  bool exited = false;  // true: exit `code`; false: killed by `signal`
  int code = 0;
  int signal = 0;

  bool success() const { return exited && code == 0; }
  std::string Describe() const;  // "exit status 2", "killed by signal 9 (Killed)"
};

struct ChildOutput {
  std::function<void(std::string_view line)> on_stdout_line;
  std::function<void(std::string_view line)> on_stderr_line;
  // Called at least every `tick` while the child runs (for batching reports).
  std::function<void()> on_tick;
  absl::Duration tick = absl::Milliseconds(250);
};

// A child process whose stdout and stderr are read line by line. Stop() may be called from any
// thread: the child gets SIGTERM, then SIGKILL after the grace period.
class ChildProcess {
 public:
  // `environment`: NAME=value entries added to (or replacing those of) the worker's own.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(
      const std::vector<std::string>& argv, const std::vector<std::string>& environment = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Reads the child's output until it exits and returns how it ended.
  ExitStatus Wait(const ChildOutput& output);
  void Stop(absl::Duration grace);
  bool stop_requested() const { return stop_requested_.load(); }
  pid_t pid() const { return pid_; }

 private:
  ChildProcess(pid_t pid, int stdout_fd, int stderr_fd, int wake_fd);

  pid_t pid_;
  int stdout_fd_;
  int stderr_fd_;
  int wake_fd_;  // eventfd: Stop() wakes Wait()
  std::atomic<bool> stop_requested_{false};
  std::atomic<int64_t> grace_ms_{0};
};

}  // namespace easel::worker

#endif  // EASEL_TRAINER_WORKER_CHILD_PROCESS_H_
