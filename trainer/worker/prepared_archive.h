#ifndef EASEL_TRAINER_WORKER_PREPARED_ARCHIVE_H_
#define EASEL_TRAINER_WORKER_PREPARED_ARCHIVE_H_

#include <filesystem>

#include "absl/status/status.h"

namespace easel::worker {

// How a directory -- a prepared dataset (manifest.json, images/, masks/) or a training
// checkpoint -- travels through the blob store: a zip whose entries are stored uncompressed
// (images are PNGs already, tensors do not compress), in sorted order with a fixed time, so the
// same directory packs to the same bytes.
absl::Status PackDirectory(const std::filesystem::path& dir, const std::filesystem::path& zip);

// Extracts a packed prepared dataset into `dir` (created), with the checks of the archive
// ingest (no absolute or ".." paths, no links, size limits); InvalidArgument when the archive
// is damaged or holds no manifest.json.
absl::Status UnpackPreparedDataset(const std::filesystem::path& zip,
                                   const std::filesystem::path& dir);

// Extracts a packed checkpoint into `dir` (created) with the same checks; InvalidArgument when
// the archive is damaged or holds no COMPLETE marker.
absl::Status UnpackCheckpoint(const std::filesystem::path& zip, const std::filesystem::path& dir);

}  // namespace easel::worker

#endif  // EASEL_TRAINER_WORKER_PREPARED_ARCHIVE_H_
