#include "coordinator/scheduler/lease_expirer.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "coordinator/log.h"

namespace easel::coordinator {
namespace {

constexpr absl::Duration kRetryAfterError = absl::Seconds(5);

}  // namespace

LeaseExpirer::LeaseExpirer(TaskQueue& queue, Notifier& leases)
    : queue_(queue), leases_(leases), thread_([this] { Run(); }) {}

LeaseExpirer::~LeaseExpirer() {
  leases_.Shutdown();
  if (thread_.joinable()) thread_.join();
}

void LeaseExpirer::Run() {
  if (absl::StatusOr<int> held = queue_.ExtendLeasesAfterRestart(absl::Now()); !held.ok()) {
    LogInfo(absl::StrCat("extending the leases held before the restart failed: ",
                         held.status().ToString()));
  }
  while (!leases_.shut_down()) {
    uint64_t seen = leases_.generation();
    absl::Time wake = absl::InfiniteFuture();
    absl::StatusOr<std::optional<absl::Time>> next = queue_.ExpireLeases(absl::Now());
    if (!next.ok()) {
      LogInfo(absl::StrCat("lease expiry failed: ", next.status().ToString()));
      wake = absl::Now() + kRetryAfterError;
    } else if (next->has_value()) {
      wake = **next;
    }
    if (!leases_.WaitFor(seen, wake)) return;
  }
}

}  // namespace easel::coordinator
