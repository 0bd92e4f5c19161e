#ifndef EASEL_CLI_UPLOAD_H_
#define EASEL_CLI_UPLOAD_H_

#include <filesystem>

#include "absl/status/statusor.h"
#include "cli/connection.h"
#include "easel/v1/resources.pb.h"

namespace easel::cli {

// Uploads a dataset archive in chunks. The upload id is derived from the file's digest, so
// running the same upload again after an interruption resumes at the committed offset.
absl::StatusOr<easel::v1::Dataset> UploadDataset(Connection& connection,
                                                 const std::filesystem::path& path,
                                                 bool show_progress);

}  // namespace easel::cli

#endif  // EASEL_CLI_UPLOAD_H_
