#ifndef EASEL_TRAINER_WORKER_WORKER_AGENT_H_
#define EASEL_TRAINER_WORKER_WORKER_AGENT_H_

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "easel/v1/worker.grpc.pb.h"
#include "trainer/worker/task_runner.h"

namespace easel::worker {

struct WorkerOptions {
  std::string coordinator = "127.0.0.1:7500";
  std::string name;
  std::vector<easel::v1::Device> devices;
  RunnerOptions runner;
  int max_tasks = 0;  // 0: run until stopped
};

// The worker's main loop: register, lease a task, run it, repeat. Reconnects with back-off
// while the coordinator is unreachable.
class WorkerAgent {
 public:
  explicit WorkerAgent(WorkerOptions options);
  absl::Status Run();
  void Stop();  // thread- and signal-handler-safe via a flag; wakes the loop

 private:
  absl::Status Register();
  void Backoff(int failures);

  WorkerOptions options_;
  std::unique_ptr<easel::v1::WorkerService::Stub> stub_;
  std::unique_ptr<TaskRunner> runner_;
  std::string worker_id_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable wake_;
};

// This machine's devices: the CPU with its memory, and CUDA devices that `easel-trainer devices`
// reports when the trainer was built with CUDA.
std::vector<easel::v1::Device> DetectDevices(const std::filesystem::path& trainer_bin);

}  // namespace easel::worker

#endif  // EASEL_TRAINER_WORKER_WORKER_AGENT_H_
