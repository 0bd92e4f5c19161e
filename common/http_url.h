#ifndef EASEL_COMMON_HTTP_URL_H_
#define EASEL_COMMON_HTTP_URL_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace easel {

// An absolute http(s) URL, split the way an HTTP client needs it.
struct HttpUrl {
  std::string scheme;  // "http" or "https"
  std::string host;
  int port = 0;              // the scheme's default when the URL names none
  std::string target = "/";  // path and query

  std::string Origin() const;  // "scheme://host:port"
};

// INVALID_ARGUMENT naming `field` unless `text` is an http:// or https:// URL with a host
// (no user info, no fragment, at most 2,048 bytes).
absl::StatusOr<HttpUrl> ParseHttpUrl(std::string_view text, std::string_view field);

}  // namespace easel

#endif  // EASEL_COMMON_HTTP_URL_H_
