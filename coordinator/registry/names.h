#ifndef EASEL_COORDINATOR_REGISTRY_NAMES_H_
#define EASEL_COORDINATOR_REGISTRY_NAMES_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace easel::coordinator {

struct ModelRef {
  std::string owner;
  std::string name;
  std::string ToString() const { return owner + "/" + name; }
};

// owner and name: [a-z0-9][a-z0-9._-]{0,63}; INVALID_ARGUMENT naming `field`.
absl::Status ValidateNamePart(std::string_view value, std::string_view field);
// "OWNER/NAME"; INVALID_ARGUMENT naming `field`.
absl::StatusOr<ModelRef> ParseModelRef(std::string_view text, std::string_view field);

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_REGISTRY_NAMES_H_
