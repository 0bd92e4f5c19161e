#include "coordinator/scheduler/notifier.h"

#include <chrono>

#include "absl/time/clock.h"

namespace easel::coordinator {

uint64_t Notifier::generation() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return generation_;
}

void Notifier::Notify() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++generation_;
  }
  changed_.notify_all();
}

bool Notifier::WaitFor(uint64_t seen, absl::Time deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto ready = [&] { return shut_down_ || generation_ != seen; };
  if (deadline == absl::InfiniteFuture()) {
    changed_.wait(lock, ready);
  } else {
    changed_.wait_until(lock, absl::ToChronoTime(deadline), ready);
  }
  return !shut_down_;
}

void Notifier::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    shut_down_ = true;
  }
  changed_.notify_all();
}

bool Notifier::shut_down() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return shut_down_;
}

}  // namespace easel::coordinator
