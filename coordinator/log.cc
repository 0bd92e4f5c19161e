#include "coordinator/log.h"

#include <iostream>
#include <mutex>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace easel::coordinator {

void LogInfo(std::string_view message) {
  static std::mutex mutex;
  std::string time = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  std::lock_guard<std::mutex> lock(mutex);
  std::cerr << time << " easel-coordinator: " << message << std::endl;
}

}  // namespace easel::coordinator
