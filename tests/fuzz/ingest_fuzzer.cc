// libFuzzer target over archive and image ingest (built with -DEASEL_FUZZ=ON and clang; see
// docs/preprocessing.md for the command). Crashes, sanitizer reports, and statuses that
// hostile input must never produce (anything but OK, InvalidArgument, ResourceExhausted)
// count as findings.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/fuzz/ingest_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::Status status = easel::preprocess::fuzz::IngestForFuzzing(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (!easel::preprocess::fuzz::IsExpectedIngestStatus(status)) {
    std::fprintf(stderr, "unexpected status: %s\n", status.ToString().c_str());
    std::abort();
  }
  return 0;
}
