#ifndef EASEL_TRAINER_WORKER_WORKER_AGENT_H_
#define EASEL_TRAINER_WORKER_WORKER_AGENT_H_

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "easel/v1/worker.grpc.pb.h"
#include "trainer/worker/task_runner.h"

namespace easel::worker {

struct WorkerOptions {
  std::string coordinator = "127.0.0.1:7500";
  std::shared_ptr<grpc::Channel> channel;  // to the coordinator
  std::string name;
  std::vector<easel::v1::Device> devices;
  RunnerOptions runner;
  int max_tasks = 0;  // 0: run until stopped
};

// Which registered devices running tasks hold. A worker runs one task per GPU at once (one
// task in all on a CPU-only worker); a TRAIN task holds the device it was placed on, a
// PREPROCESS task only a place among them.
class DeviceSlots {
 public:
  explicit DeviceSlots(const std::vector<easel::v1::Device>& devices);

  bool HasRoom() const { return running_ < capacity_; }
  // Positions in the registered devices that a new TRAIN task may be placed on.
  std::vector<int32_t> IdlePositions() const;
  // Takes a place for `task`, and its device when it names one; returns the device's position
  // (-1 for none), to give back with Release.
  int Acquire(const easel::v1::Task& task);
  void Release(int position);
  int running() const { return running_; }

 private:
  std::vector<easel::v1::Device> devices_;
  std::vector<bool> held_;
  int capacity_ = 1;
  int running_ = 0;
};

// The worker's main loop: register, lease tasks while it has room, run each on its own thread,
// repeat. Reconnects with back-off while the coordinator is unreachable.
class WorkerAgent {
 public:
  explicit WorkerAgent(WorkerOptions options);
  absl::Status Run();
  void Stop();  // thread- and signal-handler-safe via a flag; wakes the loop

 private:
  absl::Status Register();
  void Backoff(int failures);
  // Runs `task` on a new thread, holding its place in slots_ until it ends.
  void Start(const easel::v1::Task& task);
  void JoinFinished();  // joins the threads of tasks that ended

  WorkerOptions options_;
  std::unique_ptr<easel::v1::WorkerService::Stub> stub_;
  std::unique_ptr<TaskRunner> runner_;
  std::string worker_id_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable wake_;
  DeviceSlots slots_;                       // guarded by mu_
  std::vector<std::thread::id> finished_;  // guarded by mu_
  std::map<std::thread::id, std::thread> threads_;  // of the main loop
};

// This machine's devices: the CPU with its memory, and CUDA devices that `easel-trainer devices`
// reports when the trainer was built with CUDA.
std::vector<easel::v1::Device> DetectDevices(const std::filesystem::path& trainer_bin);

}  // namespace easel::worker

#endif  // EASEL_TRAINER_WORKER_WORKER_AGENT_H_
