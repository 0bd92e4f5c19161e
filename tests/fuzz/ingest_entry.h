#ifndef EASEL_TESTS_FUZZ_INGEST_ENTRY_H_
#define EASEL_TESTS_FUZZ_INGEST_ENTRY_H_

#include <string_view>

#include "absl/status/status.h"
#include "preprocess/images/image_codec.h"
#include "preprocess/ingest/archive.h"

namespace easel::preprocess::fuzz {

// Limits one fuzz input runs under: the production rules, at sizes that keep each input
// cheap (a fuzzer finds bombs at any size).
ArchiveLimits FuzzArchiveLimits();
ImageLimits FuzzImageLimits();

// Feeds `bytes` through ingest the way an upload goes: an archive (zip, tar, tar.gz, told by
// magic bytes) is read from memory, caption.csv is parsed and matched to the files, and every
// other file is decoded as an image and cropped; bytes that are no archive are decoded as an
// image. Returns the archive's refusal (InvalidArgument, ResourceExhausted) or OK -- or, for
// a bug, any other status (an exception caught at a boundary turns into Internal).
absl::Status IngestForFuzzing(std::string_view bytes);

// True for the statuses IngestForFuzzing may return for hostile input.
bool IsExpectedIngestStatus(const absl::Status& status);

}  // namespace easel::preprocess::fuzz

#endif  // EASEL_TESTS_FUZZ_INGEST_ENTRY_H_
