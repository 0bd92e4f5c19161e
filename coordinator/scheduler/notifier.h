#ifndef EASEL_COORDINATOR_SCHEDULER_NOTIFIER_H_
#define EASEL_COORDINATOR_SCHEDULER_NOTIFIER_H_

#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "absl/time/time.h"

namespace easel::coordinator {

// A generation counter with a condition variable: readers note generation(), look at the
// store, and wait for a newer generation if there was nothing for them.
class Notifier {
 public:
  uint64_t generation() const;
  void Notify();
  // Returns when the generation differs from `seen`, at `deadline`, or on Shutdown. False
  // once shut down.
  bool WaitFor(uint64_t seen, absl::Time deadline);
  void Shutdown();
  bool shut_down() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  uint64_t generation_ = 0;
  bool shut_down_ = false;
};

// The coordinator's wake-ups: training events appended, tasks queued, leases granted.
struct Notifiers {
  Notifier events;
  Notifier tasks;
  Notifier leases;
  void ShutdownAll() {
    events.Shutdown();
    tasks.Shutdown();
    leases.Shutdown();
  }
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_SCHEDULER_NOTIFIER_H_
