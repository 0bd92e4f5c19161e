#ifndef EASEL_PREPROCESS_STAGING_DIRECTORY_H_
#define EASEL_PREPROCESS_STAGING_DIRECTORY_H_

#include <filesystem>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace easel::preprocess {

// A temporary directory beside `destination` that becomes `destination` by one rename on
// Commit(), so readers never see a half-written result. Removed on destruction unless
// committed.
class StagingDirectory {
 public:
  // Creates the parents of `destination` and the temporary directory. FailedPrecondition when
  // `destination` exists and is not an empty directory.
  static absl::StatusOr<StagingDirectory> Create(const std::filesystem::path& destination);

  StagingDirectory(StagingDirectory&& other) noexcept;
  StagingDirectory& operator=(StagingDirectory&&) = delete;
  StagingDirectory(const StagingDirectory&) = delete;
  StagingDirectory& operator=(const StagingDirectory&) = delete;
  ~StagingDirectory();

  const std::filesystem::path& path() const { return staging_; }

  // Writes `contents` to `relative` inside the staging directory, creating sub-directories.
  absl::Status WriteFile(const std::filesystem::path& relative, std::string_view contents);

  // Renames the staging directory to the destination (replacing an empty directory there).
  absl::Status Commit();

 private:
  StagingDirectory(std::filesystem::path staging, std::filesystem::path destination)
      : staging_(std::move(staging)), destination_(std::move(destination)) {}

  std::filesystem::path staging_;
  std::filesystem::path destination_;
  bool committed_ = false;
};

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_STAGING_DIRECTORY_H_
