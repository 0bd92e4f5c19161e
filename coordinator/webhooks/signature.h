#ifndef EASEL_COORDINATOR_WEBHOOKS_SIGNATURE_H_
#define EASEL_COORDINATOR_WEBHOOKS_SIGNATURE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace easel::coordinator {

// Standard Webhooks signing (what Replicate and its clients' validateWebhook use).
// `secret` is "whsec_" + base64(key); the signature is
// "v1," + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).
// INVALID_ARGUMENT for a secret that is not "whsec_" + base64.
absl::StatusOr<std::string> SignWebhook(std::string_view secret, std::string_view id,
                                        int64_t timestamp, std::string_view body);

// A new signing secret: "whsec_" + base64 of 32 random bytes.
std::string NewWebhookSecret();

std::string Base64Encode(std::string_view bytes);
// INVALID_ARGUMENT unless `text` is padded standard base64.
absl::StatusOr<std::string> Base64Decode(std::string_view text);

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_WEBHOOKS_SIGNATURE_H_
