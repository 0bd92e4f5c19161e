#ifndef EASEL_COORDINATOR_SCHEDULER_LEASE_CACHE_H_
#define EASEL_COORDINATOR_SCHEDULER_LEASE_CACHE_H_

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"

namespace easel::coordinator {

// What the store last recorded of each live lease a heartbeat extended: its epoch and the
// lease end written to SQLite. A heartbeat is answered from here, without the store, while
// that stored end is far enough ahead (TaskQueue::Heartbeat): the store stays the only judge
// of expiry, and an entry never claims more than the store holds. Entries are dropped when
// their task ends, fails or expires or its training is canceled, so those heartbeats are
// answered from the store.
class LeaseCache {
 public:
  // The stored lease end of `task_id` when the cache holds it with `epoch` and it is after
  // `after_us`; nullopt otherwise.
  std::optional<int64_t> StoredEnd(std::string_view task_id, int64_t epoch, int64_t after_us);
  // Counts ForgetTraining calls. Read it before reading a lease from the store and pass it to
  // Remember: a lease read before a cancel is then not remembered without its cancel request.
  uint64_t generation();
  // Keeps the lease unless ForgetTraining ran since `seen_generation` was read.
  void Remember(std::string_view task_id, int64_t epoch, int64_t stored_end_us,
                std::string_view training_id, uint64_t seen_generation);
  void Forget(std::string_view task_id);
  void ForgetTraining(std::string_view training_id);

 private:
  struct Entry {
    int64_t epoch;
    int64_t stored_end_us;
    std::string training_id;
  };
  std::mutex mutex_;
  uint64_t generation_ = 0;
  absl::flat_hash_map<std::string, Entry> entries_;
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_SCHEDULER_LEASE_CACHE_H_
