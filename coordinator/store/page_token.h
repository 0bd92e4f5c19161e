#ifndef EASEL_COORDINATOR_STORE_PAGE_TOKEN_H_
#define EASEL_COORDINATOR_STORE_PAGE_TOKEN_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace easel::coordinator {

// An opaque page token wraps the row sequence number the next page continues after.
std::string EncodePageToken(int64_t after_seq);
// Empty token -> 0 (start). A token that does not decode is INVALID_ARGUMENT naming page_token.
absl::StatusOr<int64_t> DecodePageToken(std::string_view token);
// page_size 0 -> 20; above 100 -> 100; negative -> INVALID_ARGUMENT naming page_size.
absl::StatusOr<int> ClampPageSize(int page_size);

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_STORE_PAGE_TOKEN_H_
