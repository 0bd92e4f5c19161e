#ifndef EASEL_COORDINATOR_WEBHOOKS_WEBHOOK_DISPATCHER_H_
#define EASEL_COORDINATOR_WEBHOOKS_WEBHOOK_DISPATCHER_H_

#include <functional>
#include <string>
#include <thread>

#include "absl/time/time.h"
#include "coordinator/scheduler/notifier.h"
#include "coordinator/store/database.h"
#include "coordinator/webhooks/webhook_store.h"
#include "easel/v1/resources.pb.h"

namespace easel::coordinator {

struct WebhookOptions {
  // At most one "logs" event per training this often.
  absl::Duration logs_interval = absl::Milliseconds(500);
  // A failed delivery is tried again after this, doubled per failure, at most 5 minutes,
  // until it has been tried max_attempts times.
  absl::Duration retry_backoff = absl::Seconds(1);
  int max_attempts = 10;
  absl::Duration timeout = absl::Seconds(10);
};

// Turns training events into webhook deliveries (start, output, logs, completed; the body is
// the training as `render` shows it then) and delivers them, signed with the destination
// owner's secret. Both steps go through the store, so a restart loses nothing: deliveries
// are made in the same transaction that advances a training's cursor, and a pending delivery
// is tried again after a restart.
class WebhookDispatcher {
 public:
  using Render = std::function<std::string(const v1::Training&)>;

  WebhookDispatcher(Database& database, WebhookStore& store, Notifier& events, Render render,
                    WebhookOptions options = {});
  ~WebhookDispatcher();  // stops both threads
  WebhookDispatcher(const WebhookDispatcher&) = delete;
  WebhookDispatcher& operator=(const WebhookDispatcher&) = delete;

 private:
  // Makes the deliveries of every training with new events; returns when to look again even
  // without new events (a throttled "logs" event), or absl::InfiniteFuture().
  absl::StatusOr<absl::Time> MakeDeliveries();
  void MakeLoop();
  void SendLoop();
  void Send(const WebhookDelivery& delivery);

  Database& database_;
  WebhookStore& store_;
  Notifier& events_;
  Render render_;
  WebhookOptions options_;
  Notifier deliveries_;  // new deliveries were made
  Notifier stopping_;    // shut down by the destructor; wakes pauses
  std::thread maker_;
  std::thread sender_;
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_WEBHOOKS_WEBHOOK_DISPATCHER_H_
