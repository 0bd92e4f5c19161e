#include "coordinator/webhooks/webhook_dispatcher.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/http_url.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "coordinator/log.h"
#include "coordinator/scheduler/training_store.h"
#include "coordinator/store/timestamps.h"
#include "coordinator/webhooks/signature.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

namespace easel::coordinator {
namespace {

constexpr int kTrainingsPerScan = 100;
constexpr int kDeliveriesPerRound = 16;
constexpr absl::Duration kMaxBackoff = absl::Minutes(5);
constexpr absl::Duration kScanInterval = absl::Milliseconds(100);
// How often an idle loop looks again anyway (a missed wake-up costs at most this).
constexpr absl::Duration kIdleRecheck = absl::Seconds(5);

struct OpenWebhook {
  std::string training_id;
  std::string url;
  std::vector<std::string> events;
  int64_t cursor = 0;
  int64_t logs_sent_us = 0;
};

// What the training's events after the cursor call for, and the training as it was when it
// was created and when it ended (the bodies of "start", "output" and "completed").
struct NewEvents {
  bool logs = false;      // log lines or progress
  bool terminal = false;  // the training ended
  std::optional<v1::Training> started;
  std::optional<v1::Training> ended;
};

absl::StatusOr<NewEvents> ReadNewEvents(Connection& connection, const OpenWebhook& webhook) {
  EASEL_ASSIGN_OR_RETURN(
      Statement rows,
      connection.Query("SELECT event FROM training_events WHERE training_id = ? AND sequence > ? "
                       "ORDER BY sequence",
                       {webhook.training_id, webhook.cursor}));
  NewEvents found;
  while (true) {
    EASEL_ASSIGN_OR_RETURN(bool more, rows.Step());
    if (!more) return found;
    v1::TrainingEvent event;
    if (!event.ParseFromString(rows.Text(0))) continue;
    if (event.has_log() || event.has_progress()) found.logs = true;
    if (!event.has_status()) continue;
    if (event.status().status() == v1::STARTING && !found.started) found.started = event.training();
    if (IsTerminal(event.status().status())) {
      found.terminal = true;
      found.ended = event.training();
    }
  }
}

bool Wants(const OpenWebhook& webhook, std::string_view event) {
  return std::find(webhook.events.begin(), webhook.events.end(), event) != webhook.events.end();
}

std::string Describe(const httplib::Result& result) {
  if (!result) return absl::StrCat("no response: ", httplib::to_string(result.error()));
  return absl::StrCat(result->status, result->body.empty() ? "" : ": ",
                      result->body.substr(0, 200));
}

}  // namespace

WebhookDispatcher::WebhookDispatcher(Database& database, WebhookStore& store, Notifier& events,
                                     Render render, WebhookOptions options)
    : database_(database),
      store_(store),
      events_(events),
      render_(std::move(render)),
      options_(options),
      maker_([this] { MakeLoop(); }),
      sender_([this] { SendLoop(); }) {}

WebhookDispatcher::~WebhookDispatcher() {
  stopping_.Shutdown();
  deliveries_.Shutdown();
  events_.Notify();  // wakes the maker, which sees stopping_; others waiting on it look again
  maker_.join();
  sender_.join();
}

absl::StatusOr<absl::Time> WebhookDispatcher::MakeDeliveries() {
  absl::Time look_again = absl::InfiniteFuture();
  bool made = false;
  EASEL_RETURN_IF_ERROR(database_.Transact([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(
        Statement rows,
        connection.Query("SELECT w.training_id, w.url, w.events, w.cursor, w.logs_sent_us "
                         "FROM training_webhooks w JOIN trainings t ON t.id = w.training_id "
                         "WHERE w.done = 0 AND t.event_count > w.cursor LIMIT ?",
                         {int64_t{kTrainingsPerScan}}));
    std::vector<OpenWebhook> open;
    while (true) {
      EASEL_ASSIGN_OR_RETURN(bool found, rows.Step());
      if (!found) break;
      OpenWebhook webhook{.training_id = rows.Text(0),
                          .url = rows.Text(1),
                          .cursor = rows.Int(3),
                          .logs_sent_us = rows.Int(4)};
      for (const auto& event : nlohmann::json::parse(rows.Text(2), nullptr, false)) {
        if (event.is_string()) webhook.events.push_back(event.get<std::string>());
      }
      open.push_back(std::move(webhook));
    }
    int64_t now = ToMicros(absl::Now());
    for (OpenWebhook& webhook : open) {
      EASEL_ASSIGN_OR_RETURN(NewEvents events, ReadNewEvents(connection, webhook));
      EASEL_ASSIGN_OR_RETURN(v1::Training training,
                             TrainingStore::LoadTraining(connection, webhook.training_id));
      std::vector<std::string> send;
      if (webhook.cursor == 0) send.push_back("start");
      if (events.terminal) {
        if (training.status() == v1::SUCCEEDED && !training.output().version().empty()) {
          send.push_back("output");
        }
        send.push_back("completed");
      } else if (events.logs) {
        int64_t allowed_at =
            webhook.logs_sent_us + absl::ToInt64Microseconds(options_.logs_interval);
        if (now >= allowed_at) {
          send.push_back("logs");
          webhook.logs_sent_us = now;
        } else if (send.empty()) {  // wait for the interval to pass; keep the cursor
          look_again = std::min(look_again, absl::FromUnixMicros(allowed_at));
          continue;
        }
      }
      for (const std::string& event : send) {
        if (!Wants(webhook, event)) continue;
        // "start" shows the training as created, "output" and "completed" as it ended, "logs"
        // as it is now.
        const v1::Training* then = &training;
        if (event == "start" && events.started) then = &*events.started;
        if (event != "start" && event != "logs" && events.ended) then = &*events.ended;
        std::string body = render_(*then);
        EASEL_RETURN_IF_ERROR(
            WebhookStore::Enqueue(connection, WebhookDelivery{.id = absl::StrCat("msg_", NewId()),
                                                              .training_id = webhook.training_id,
                                                              .event = event,
                                                              .url = webhook.url,
                                                              .body = body,
                                                              .create_us = now,
                                                              .next_attempt_us = now}));
        made = true;
      }
      EASEL_RETURN_IF_ERROR(
          connection
              .Execute("UPDATE training_webhooks SET cursor = (SELECT event_count FROM trainings "
                       "WHERE id = ?), logs_sent_us = ?, done = ? WHERE training_id = ?",
                       {webhook.training_id, webhook.logs_sent_us, int64_t{events.terminal},
                        webhook.training_id})
              .status());
    }
    if (static_cast<int>(open.size()) == kTrainingsPerScan) look_again = absl::Now();
    return absl::OkStatus();
  }));
  if (made) deliveries_.Notify();
  return look_again;
}

void WebhookDispatcher::MakeLoop() {
  while (!events_.shut_down() && !stopping_.shut_down()) {
    uint64_t seen = events_.generation();
    absl::StatusOr<absl::Time> look_again = MakeDeliveries();
    if (!look_again.ok()) {
      LogInfo(absl::StrCat("webhooks: cannot make deliveries: ", look_again.status().ToString()));
      look_again = absl::Now() + absl::Seconds(1);
    }
    // At most one scan per kScanInterval: a busy coordinator appends thousands of events a
    // second, and each scan holds the store's lock.
    stopping_.WaitFor(stopping_.generation(), absl::Now() + kScanInterval);
    if (stopping_.shut_down()) return;  // after `seen`: the destructor's Notify is not missed
    if (*look_again <= absl::Now()) continue;
    events_.WaitFor(seen, std::min(*look_again, absl::Now() + kIdleRecheck));
  }
}

void WebhookDispatcher::Send(const WebhookDelivery& delivery) {
  absl::StatusOr<HttpUrl> url = ParseHttpUrl(delivery.url, "webhook");
  absl::StatusOr<std::string> secret = store_.SecretFor(delivery.owner);
  std::string response;
  bool delivered = false;
  if (!url.ok()) {
    response = std::string(url.status().message());
  } else if (!secret.ok()) {
    response = std::string(secret.status().message());
  } else {
    int64_t timestamp = absl::ToUnixSeconds(absl::Now());
    absl::StatusOr<std::string> signature =
        SignWebhook(*secret, delivery.id, timestamp, delivery.body);
    httplib::Client client(url->Origin());
    client.set_follow_location(false);  // a redirect is a failed delivery, not a new target
    client.set_connection_timeout(absl::ToChronoSeconds(options_.timeout));
    client.set_read_timeout(absl::ToChronoSeconds(options_.timeout));
    client.set_write_timeout(absl::ToChronoSeconds(options_.timeout));
    httplib::Headers headers = {{"webhook-id", delivery.id},
                                {"webhook-timestamp", absl::StrCat(timestamp)},
                                {"webhook-signature", signature.value_or("")},
                                {"user-agent", "easel-webhooks/1"}};
    httplib::Result result = client.Post(url->target, headers, delivery.body, "application/json");
    response = Describe(result);
    delivered = result && result->status >= 200 && result->status < 300;
  }
  std::optional<int64_t> retry_at;
  int attempts = delivery.attempts + 1;
  if (!delivered && attempts < options_.max_attempts) {
    absl::Duration wait =
        std::min(options_.retry_backoff * (int64_t{1} << std::min(attempts - 1, 20)), kMaxBackoff);
    retry_at = ToMicros(absl::Now() + wait);
  }
  if (!delivered) {
    LogInfo(absl::StrCat("webhook ", delivery.id, " (", delivery.event, ") of training ",
                         delivery.training_id, " to ", delivery.url, ": attempt ", attempts,
                         " failed: ", response, retry_at ? "; will retry" : "; giving up"));
  }
  absl::Status recorded = store_.RecordAttempt(delivery.id, delivered, response, retry_at);
  if (!recorded.ok()) LogInfo(absl::StrCat("webhooks: ", recorded.ToString()));
}

void WebhookDispatcher::SendLoop() {
  while (!deliveries_.shut_down()) {
    uint64_t seen = deliveries_.generation();
    absl::StatusOr<std::vector<WebhookDelivery>> due =
        store_.Due(ToMicros(absl::Now()), kDeliveriesPerRound);
    if (due.ok() && !due->empty()) {
      for (const WebhookDelivery& delivery : *due) {
        if (deliveries_.shut_down()) return;
        Send(delivery);
      }
      continue;
    }
    absl::Time wake = absl::Now() + kIdleRecheck;
    absl::StatusOr<std::optional<int64_t>> next = store_.NextDue();
    if (next.ok() && next->has_value()) wake = std::min(wake, absl::FromUnixMicros(**next));
    deliveries_.WaitFor(seen, wake);
  }
}

}  // namespace easel::coordinator
