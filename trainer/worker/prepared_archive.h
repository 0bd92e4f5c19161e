#ifndef EASEL_TRAINER_WORKER_PREPARED_ARCHIVE_H_
#define EASEL_TRAINER_WORKER_PREPARED_ARCHIVE_H_

#include <filesystem>

#include "absl/status/status.h"

namespace easel::worker {

// How a prepared dataset directory (manifest.json, images/, masks/) travels through the blob
// store: a zip whose entries are stored uncompressed (the images are PNGs already), in sorted
// order with a fixed time, so the same directory packs to the same bytes.
absl::Status PackPreparedDataset(const std::filesystem::path& dir,
                                 const std::filesystem::path& zip);

// Extracts a packed prepared dataset into `dir` (created), with the checks of the archive
// ingest (no absolute or ".." paths, no links, size limits); InvalidArgument when the archive
// is damaged or holds no manifest.json.
absl::Status UnpackPreparedDataset(const std::filesystem::path& zip,
                                   const std::filesystem::path& dir);

}  // namespace easel::worker

#endif  // EASEL_TRAINER_WORKER_PREPARED_ARCHIVE_H_
