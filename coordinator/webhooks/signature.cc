#include "coordinator/webhooks/signature.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace easel::coordinator {

std::string Base64Encode(std::string_view bytes) {
  std::string text(4 * ((bytes.size() + 2) / 3), '\0');
  int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  text.resize(written);
  return text;
}

absl::StatusOr<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return absl::InvalidArgumentError("not base64: the length is not a multiple of 4");
  }
  std::string bytes(3 * (text.size() / 4), '\0');
  int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (written < 0) return absl::InvalidArgumentError("not base64");
  size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  bytes.resize(written - padding);
  return bytes;
}

absl::StatusOr<std::string> SignWebhook(std::string_view secret, std::string_view id,
                                        int64_t timestamp, std::string_view body) {
  constexpr std::string_view kPrefix = "whsec_";
  if (secret.substr(0, kPrefix.size()) != kPrefix) {
    return absl::InvalidArgumentError("a webhook secret starts with whsec_");
  }
  EASEL_ASSIGN_OR_RETURN(std::string key, Base64Decode(secret.substr(kPrefix.size())));
  std::string message = absl::StrCat(std::string(id), ".", timestamp, ".", std::string(body));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &mac_size);
  return absl::StrCat("v1,",
                      Base64Encode(std::string_view(reinterpret_cast<char*>(mac), mac_size)));
}

std::string NewWebhookSecret() {
  unsigned char key[32];
  if (RAND_bytes(key, sizeof(key)) != 1) std::abort();  // no entropy: nothing is safe to sign
  return absl::StrCat("whsec_",
                      Base64Encode(std::string_view(reinterpret_cast<char*>(key), sizeof(key))));
}

}  // namespace easel::coordinator
