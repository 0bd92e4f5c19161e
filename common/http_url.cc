#include "common/http_url.h"

#include <charconv>

#include "absl/strings/str_cat.h"

namespace easel {
namespace {

constexpr size_t kMaxUrlBytes = 2048;

}  // namespace

std::string HttpUrl::Origin() const { return absl::StrCat(scheme, "://", host, ":", port); }

absl::StatusOr<HttpUrl> ParseHttpUrl(std::string_view text, std::string_view field) {
  auto invalid = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(field), " '", std::string(text.substr(0, 200)), "' ", std::string(why)));
  };
  if (text.size() > kMaxUrlBytes) return invalid("is longer than 2048 bytes");
  HttpUrl url;
  std::string_view rest = text;
  if (rest.starts_with("http://")) {
    url.scheme = "http";
    url.port = 80;
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    url.scheme = "https";
    url.port = 443;
    rest.remove_prefix(8);
  } else {
    return invalid("must be an http:// or https:// URL");
  }
  size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  rest = authority_end == std::string_view::npos ? "" : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) return invalid("must not carry a user name");
  if (rest.find('#') != std::string_view::npos) return invalid("must not carry a fragment");
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
      return invalid("has a space or control character");
  }
  std::string_view host = authority;
  if (authority.starts_with("[")) {  // IPv6 literal
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return invalid("has an unclosed [ in its host");
    host = authority.substr(0, close + 1);
    authority.remove_prefix(close + 1);
  } else {
    size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    authority = colon == std::string_view::npos ? "" : authority.substr(colon);
  }
  if (host.empty()) return invalid("has no host");
  if (!authority.empty()) {
    if (!authority.starts_with(":")) return invalid("has a malformed host");
    std::string_view digits = authority.substr(1);
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), url.port);
    if (error != std::errc() || end != digits.data() + digits.size() || url.port < 1 ||
        url.port > 65535) {
      return invalid("has a malformed port");
    }
  }
  url.host = std::string(host);
  if (!rest.empty())
    url.target = rest.starts_with("/") ? std::string(rest) : absl::StrCat("/", std::string(rest));
  return url;
}

}  // namespace easel
