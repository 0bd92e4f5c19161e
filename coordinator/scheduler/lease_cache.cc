#include "coordinator/scheduler/lease_cache.h"

namespace easel::coordinator {

std::optional<int64_t> LeaseCache::StoredEnd(std::string_view task_id, int64_t epoch,
                                             int64_t after_us) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(std::string(task_id));
  if (it == entries_.end() || it->second.epoch != epoch || it->second.stored_end_us <= after_us) {
    return std::nullopt;
  }
  return it->second.stored_end_us;
}

uint64_t LeaseCache::generation() {
  std::lock_guard<std::mutex> lock(mutex_);
  return generation_;
}

void LeaseCache::Remember(std::string_view task_id, int64_t epoch, int64_t stored_end_us,
                          std::string_view training_id, uint64_t seen_generation) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (seen_generation != generation_) return;
  entries_[std::string(task_id)] = Entry{epoch, stored_end_us, std::string(training_id)};
}

void LeaseCache::Forget(std::string_view task_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.erase(std::string(task_id));
}

void LeaseCache::ForgetTraining(std::string_view training_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++generation_;
  absl::erase_if(entries_,
                 [&](const auto& entry) { return entry.second.training_id == training_id; });
}

}  // namespace easel::coordinator
