// Replays every file of tests/fuzz/corpus through the fuzz target's entry function, so the
// seeds and every crasher the fuzzer ever found (after its fix) run in the ordinary suite.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/fuzz/ingest_entry.h"

namespace easel::preprocess::fuzz {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> CorpusFiles() {
  std::vector<fs::path> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(EASEL_FUZZ_CORPUS_DIR)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(FuzzCorpusReplayTest, EveryInputEndsInAnExpectedStatus) {
  const std::vector<fs::path> files = CorpusFiles();
  ASSERT_GE(files.size(), 20u) << "the corpus in " << EASEL_FUZZ_CORPUS_DIR << " is missing";
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    const absl::Status status = IngestForFuzzing(bytes.str());
    EXPECT_TRUE(IsExpectedIngestStatus(status)) << file.filename() << ": " << status;
  }
}

}  // namespace
}  // namespace easel::preprocess::fuzz
