#ifndef EASEL_CLI_FOLLOW_H_
#define EASEL_CLI_FOLLOW_H_

#include <string>

#include "absl/status/statusor.h"
#include "cli/connection.h"
#include "easel/v1/resources.pb.h"

namespace easel::cli {

struct FollowOptions {
  bool show_logs = false;      // print log lines to stdout
  bool show_progress = true;   // draw the progress bar on stderr
};

// Watches a training until it ends, drawing a live progress bar (ETA, loss, it/s); returns the
// training as it ended.
absl::StatusOr<easel::v1::Training> FollowTraining(Connection& connection, const std::string& id,
                                                   const FollowOptions& options);

}  // namespace easel::cli

#endif  // EASEL_CLI_FOLLOW_H_
