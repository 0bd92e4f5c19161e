#ifndef EASEL_COORDINATOR_SCHEDULER_LEASE_EXPIRER_H_
#define EASEL_COORDINATOR_SCHEDULER_LEASE_EXPIRER_H_

#include <thread>

#include "coordinator/scheduler/notifier.h"
#include "coordinator/scheduler/task_queue.h"

namespace easel::coordinator {

// A background thread that requeues tasks whose leases ended, judged by the coordinator's
// clock. It sleeps on the leases notifier until the earliest lease end or a new lease. On start
// it gives the leases held before a restart one lease duration for their workers to check in.
class LeaseExpirer {
 public:
  LeaseExpirer(TaskQueue& queue, Notifier& leases);
  ~LeaseExpirer();  // Stops the thread; the notifier must be shut down first or soon.
  LeaseExpirer(const LeaseExpirer&) = delete;
  LeaseExpirer& operator=(const LeaseExpirer&) = delete;

 private:
  void Run();

  TaskQueue& queue_;
  Notifier& leases_;
  std::thread thread_;
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_SCHEDULER_LEASE_EXPIRER_H_
