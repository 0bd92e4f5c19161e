#ifndef EASEL_COORDINATOR_WEBHOOKS_WEBHOOK_STORE_H_
#define EASEL_COORDINATOR_WEBHOOKS_WEBHOOK_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/store/database.h"
#include "google/protobuf/repeated_ptr_field.h"

namespace easel::coordinator {

// The events a webhook may ask for, in the order they happen.
inline constexpr const char* kWebhookEvents[] = {"start", "output", "logs", "completed"};

// The events a CreateTraining request's webhook sends: all when `events` is empty.
// INVALID_ARGUMENT for a URL that is not http(s) or an unknown event.
absl::StatusOr<std::vector<std::string>> ValidateWebhook(
    std::string_view url, const google::protobuf::RepeatedPtrField<std::string>& events);

// One POST of a training's event to its webhook, retried under the same id until it is
// answered with a 2xx or runs out of attempts.
struct WebhookDelivery {
  std::string id;  // the webhook-id header: the same on every attempt
  std::string training_id;
  std::string event;  // start, output, logs or completed
  std::string url;
  std::string body;
  std::string owner;  // whose secret signs it: the destination model's owner
  std::string state;  // pending, delivered or failed
  int attempts = 0;
  std::string last_response;  // "200", "500: body...", or the connection error
  int64_t create_us = 0;
  int64_t next_attempt_us = 0;
  std::optional<int64_t> delivered_us;
};

// The deliveries table and each owner's signing secret.
class WebhookStore {
 public:
  explicit WebhookStore(Database& database) : database_(database) {}

  // The owner's secret ("whsec_..."), made on first use.
  absl::StatusOr<std::string> SecretFor(std::string_view owner);
  // Pending deliveries due at `now_us`, oldest first.
  absl::StatusOr<std::vector<WebhookDelivery>> Due(int64_t now_us, int limit);
  // When the next pending delivery is due; nullopt when none is pending.
  absl::StatusOr<std::optional<int64_t>> NextDue();
  // Records an attempt: delivered, or pending again at `retry_at_us`, or failed when nullopt.
  absl::Status RecordAttempt(std::string_view id, bool delivered, std::string_view response,
                             std::optional<int64_t> retry_at_us);
  // A training's deliveries in the order they were made.
  absl::StatusOr<std::vector<WebhookDelivery>> ForTraining(std::string_view training_id);

  static absl::Status Enqueue(Connection& connection, const WebhookDelivery& delivery);

 private:
  Database& database_;
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_WEBHOOKS_WEBHOOK_STORE_H_
