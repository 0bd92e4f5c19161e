#ifndef EASEL_CLI_REFS_H_
#define EASEL_CLI_REFS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace easel::cli {

// "OWNER/NAME" or "OWNER/NAME:VERSION".
struct ModelRef {
  std::string owner;
  std::string name;
  std::string version;  // empty: the latest
  std::string model() const { return owner + "/" + name; }
};

absl::StatusOr<ModelRef> ParseModelRef(absl::string_view text, bool allow_version = true);

}  // namespace easel::cli

#endif  // EASEL_CLI_REFS_H_
