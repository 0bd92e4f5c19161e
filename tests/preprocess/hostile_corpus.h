#ifndef EASEL_TESTS_PREPROCESS_HOSTILE_CORPUS_H_
#define EASEL_TESTS_PREPROCESS_HOSTILE_CORPUS_H_

// The hostile corpus: archives and images built to break ingest, shared by
// tests/preprocess/hostile_archives_test.cc (easel-preprocess's library directly) and
// tests/e2e/hostile_archive_e2e_test.cc (the same bytes uploaded to the coordinator).

#include <functional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "absl/status/status.h"
#include "tests/preprocess/test_support.h"

namespace easel::preprocess::testing {

// Paths the hostile cases aim at outside any work directory; nothing may create them.
inline constexpr char kAbsolutePathTarget[] = "/tmp/easel-hostile-absolute.png";
inline constexpr char kDeepSlipTarget[] = "/tmp/easel-hostile-deep-slip.png";

// An archive built to be refused, and the refusal docs/preprocessing.md promises for it: the
// status code and parts of the message (which names the cause).
struct HostileCase {
  std::string name;
  std::function<std::string()> make;
  absl::StatusCode code;
  std::vector<std::string> message_parts;
};

// Zips (and one PNG given as the archive) that PrepareDataset refuses: bombs by ratio and by
// overlapping entries, zip slip, absolute paths, symlinks and special files, encryption,
// damage and truncation, 50,000 entries, a repeated name, a caption.csv row for a missing
// file, empty archives.
std::vector<HostileCase> RefusedZipCases();

// A 40x30 JPEG of one BGR colour.
std::string Jpeg(const cv::Scalar& bgr = {0, 0, 255});

// A zip written by libzip, as bytes.
std::string ZipBytes(const std::vector<ZipEntrySpec>& entries);

// A well-formed PNG header declaring 100000 x 100000 RGB pixels, then a few bytes of data.
std::string HugePng();

// An HEIC file's leading box, as an iPhone writes it (to be named .jpg).
std::string HeicBytes();

// A 64x64 JPEG cut in half: no end-of-image marker.
std::string TruncatedJpeg();

// photos/a.jpg beside a nested zip (photos/more.zip), a nested .tar.gz (photos/old.tar.gz),
// macOS metadata (__MACOSX/photos/._a.jpg) and a dotfile (.DS_Store): one image is used, the
// rest is ignored with a warning each.
std::string NestedAndIgnoredZip();

}  // namespace easel::preprocess::testing

#endif  // EASEL_TESTS_PREPROCESS_HOSTILE_CORPUS_H_
