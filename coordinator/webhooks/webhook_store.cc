#include "coordinator/webhooks/webhook_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/http_url.h"
#include "common/status_macros.h"
#include "coordinator/webhooks/signature.h"

namespace easel::coordinator {
namespace {

constexpr char kDeliverySelect[] =
    "SELECT d.id, d.training_id, d.event, d.url, d.body, "
    "COALESCE((SELECT owner FROM trainings t WHERE t.id = d.training_id), ''), d.state, "
    "d.attempts, d.last_response, d.create_us, d.next_attempt_us, d.delivered_us "
    "FROM webhook_deliveries d ";

WebhookDelivery DeliveryFromRow(const Statement& row) {
  WebhookDelivery delivery{.id = row.Text(0),
                           .training_id = row.Text(1),
                           .event = row.Text(2),
                           .url = row.Text(3),
                           .body = row.Text(4),
                           .owner = row.Text(5),
                           .state = row.Text(6),
                           .attempts = static_cast<int>(row.Int(7)),
                           .last_response = row.Text(8),
                           .create_us = row.Int(9),
                           .next_attempt_us = row.Int(10)};
  if (!row.IsNull(11)) delivery.delivered_us = row.Int(11);
  return delivery;
}

absl::StatusOr<std::vector<WebhookDelivery>> Collect(Statement& rows) {
  std::vector<WebhookDelivery> deliveries;
  while (true) {
    EASEL_ASSIGN_OR_RETURN(bool found, rows.Step());
    if (!found) return deliveries;
    deliveries.push_back(DeliveryFromRow(rows));
  }
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ValidateWebhook(
    std::string_view url, const google::protobuf::RepeatedPtrField<std::string>& events) {
  if (url.empty()) {
    if (!events.empty()) {
      return absl::InvalidArgumentError("webhook_events_filter needs a webhook URL");
    }
    return std::vector<std::string>{};
  }
  EASEL_RETURN_IF_ERROR(ParseHttpUrl(url, "webhook").status());
  std::vector<std::string> chosen;
  for (const char* known : kWebhookEvents) {
    if (events.empty() || std::find(events.begin(), events.end(), known) != events.end()) {
      chosen.push_back(known);
    }
  }
  for (const std::string& event : events) {
    if (std::find(chosen.begin(), chosen.end(), event) == chosen.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("webhook_events_filter: unknown event '", event,
                       "'; the events are start, output, logs and completed"));
    }
  }
  return chosen;
}

absl::StatusOr<std::string> WebhookStore::SecretFor(std::string_view owner) {
  std::string secret;
  auto find = [&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(Statement row,
                           connection.Query("SELECT secret FROM webhook_secrets WHERE owner = ?",
                                            {std::string(owner)}));
    EASEL_ASSIGN_OR_RETURN(bool found, row.Step());
    if (found) secret = row.Text(0);
    return absl::OkStatus();
  };
  EASEL_RETURN_IF_ERROR(database_.Read(find));
  if (!secret.empty()) return secret;
  EASEL_RETURN_IF_ERROR(database_.Transact([&](Connection& connection) -> absl::Status {
    EASEL_RETURN_IF_ERROR(connection
                              .Execute("INSERT OR IGNORE INTO webhook_secrets (owner, secret) "
                                       "VALUES (?, ?)",
                                       {std::string(owner), NewWebhookSecret()})
                              .status());
    return find(connection);  // another call may have made it first
  }));
  return secret;
}

absl::StatusOr<std::vector<WebhookDelivery>> WebhookStore::Due(int64_t now_us, int limit) {
  std::vector<WebhookDelivery> due;
  EASEL_RETURN_IF_ERROR(database_.Read([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(
        Statement rows,
        connection.Query(absl::StrCat(kDeliverySelect,
                                      "WHERE d.state = 'pending' AND d.next_attempt_us <= ? "
                                      "ORDER BY d.next_attempt_us, d.seq LIMIT ?"),
                         {now_us, int64_t{limit}}));
    EASEL_ASSIGN_OR_RETURN(due, Collect(rows));
    return absl::OkStatus();
  }));
  return due;
}

absl::StatusOr<std::optional<int64_t>> WebhookStore::NextDue() {
  std::optional<int64_t> next;
  EASEL_RETURN_IF_ERROR(database_.Read([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(Statement row,
                           connection.Query("SELECT MIN(next_attempt_us) FROM webhook_deliveries "
                                            "WHERE state = 'pending'"));
    EASEL_ASSIGN_OR_RETURN(bool found, row.Step());
    if (found && !row.IsNull(0)) next = row.Int(0);
    return absl::OkStatus();
  }));
  return next;
}

absl::Status WebhookStore::RecordAttempt(std::string_view id, bool delivered,
                                         std::string_view response,
                                         std::optional<int64_t> retry_at_us) {
  std::string state = delivered ? "delivered" : (retry_at_us.has_value() ? "pending" : "failed");
  SqlValue delivered_us = delivered ? SqlValue(absl::ToUnixMicros(absl::Now())) : SqlValue(nullptr);
  return database_.Transact([&](Connection& connection) -> absl::Status {
    return connection
        .Execute(
            "UPDATE webhook_deliveries SET state = ?, attempts = attempts + 1, "
            "last_response = ?, next_attempt_us = ?, delivered_us = ? WHERE id = ?",
            {state, std::string(response.substr(0, 500)), retry_at_us.value_or(0), delivered_us,
             std::string(id)})
        .status();
  });
}

absl::StatusOr<std::vector<WebhookDelivery>> WebhookStore::ForTraining(
    std::string_view training_id) {
  std::vector<WebhookDelivery> deliveries;
  EASEL_RETURN_IF_ERROR(database_.Read([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(
        Statement rows,
        connection.Query(absl::StrCat(kDeliverySelect, "WHERE d.training_id = ? ORDER BY d.seq"),
                         {std::string(training_id)}));
    EASEL_ASSIGN_OR_RETURN(deliveries, Collect(rows));
    return absl::OkStatus();
  }));
  return deliveries;
}

absl::Status WebhookStore::Enqueue(Connection& connection, const WebhookDelivery& delivery) {
  return connection
      .Execute(
          "INSERT INTO webhook_deliveries (id, training_id, event, url, body, "
          "next_attempt_us, create_us) VALUES (?, ?, ?, ?, ?, ?, ?)",
          {delivery.id, delivery.training_id, delivery.event, delivery.url, delivery.body,
           delivery.next_attempt_us, delivery.create_us})
      .status();
}

}  // namespace easel::coordinator
