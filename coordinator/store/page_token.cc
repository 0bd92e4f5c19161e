#include "coordinator/store/page_token.h"

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace easel::coordinator {

std::string EncodePageToken(int64_t after_seq) {
  return absl::WebSafeBase64Escape(absl::StrCat("seq:", after_seq));
}

absl::StatusOr<int64_t> DecodePageToken(std::string_view token) {
  if (token.empty()) return 0;
  std::string decoded;
  int64_t seq = 0;
  if (!absl::WebSafeBase64Unescape(absl::string_view(token.data(), token.size()), &decoded)) {
    return absl::InvalidArgumentError("page_token is not a token this server issued");
  }
  absl::string_view rest = decoded;
  if (!absl::ConsumePrefix(&rest, "seq:") || !absl::SimpleAtoi(rest, &seq) || seq <= 0) {
    return absl::InvalidArgumentError("page_token is not a token this server issued");
  }
  return seq;
}

absl::StatusOr<int> ClampPageSize(int page_size) {
  if (page_size < 0) return absl::InvalidArgumentError("page_size must not be negative");
  if (page_size == 0) return 20;
  return page_size > 100 ? 100 : page_size;
}

}  // namespace easel::coordinator
