// The hostile corpus (tests/preprocess/hostile_corpus.h) through the coordinator: each archive
// is uploaded with UploadDataset and trained on with CreateTraining. A refused archive fails
// its upload or its training with an error naming the cause; an archive with bad images or
// nested archives trains, and the training's dataset report lists what was skipped or ignored
// and why. The coordinator keeps serving throughout, and nothing is written outside the
// coordinator's data dir and the worker's work dir.

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/sha256.h"
#include "easel/v1/datasets.grpc.pb.h"
#include "easel/v1/trainings.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/preprocess/hostile_corpus.h"
#include "tests/preprocess/test_support.h"

namespace easel {
namespace {

namespace fs = std::filesystem;
namespace corpus = preprocess::testing;
using ::testing::HasSubstr;

// The cases the coordinator refuses at upload (it checks an archive's magic bytes; the rest is
// easel-preprocess's).
const std::set<std::string>& RefusedAtUpload() {
  static const auto* names = new std::set<std::string>{"not_an_archive"};
  return *names;
}

struct E2eCase {
  enum class Outcome { kUploadRefused, kTrainingFailed, kTrainingSucceeded };
  std::string name;
  std::string archive;
  Outcome outcome;
  std::vector<std::string> error_parts;  // refusals: each appears in the error
  // kTrainingSucceeded: the dataset report's skipped files (source -> part of the reason) and
  // parts of its warnings, one each.
  std::map<std::string, std::string> skipped;
  std::vector<std::string> warnings;
};

std::vector<E2eCase> Cases() {
  std::vector<E2eCase> cases;
  for (const corpus::HostileCase& c : corpus::RefusedZipCases()) {
    cases.push_back({.name = c.name,
                     .archive = c.make(),
                     .outcome = RefusedAtUpload().contains(c.name)
                                    ? E2eCase::Outcome::kUploadRefused
                                    : E2eCase::Outcome::kTrainingFailed,
                     .error_parts = c.message_parts});
  }
  const auto with_good_image = [](const std::string& name, const std::string& data) {
    return corpus::ZipBytes({{.name = "good.jpg", .data = corpus::Jpeg()},
                             {.name = name, .data = data}});
  };
  cases.push_back({.name = "png_declaring_100000x100000",
                   .archive = with_good_image("huge.png", corpus::HugePng()),
                   .outcome = E2eCase::Outcome::kTrainingSucceeded,
                   .skipped = {{"huge.png", "image too large: PNG of 100000x100000 pixels"}}});
  cases.push_back({.name = "jpeg_truncated",
                   .archive = with_good_image("truncated.jpg", corpus::TruncatedJpeg()),
                   .outcome = E2eCase::Outcome::kTrainingSucceeded,
                   .skipped = {{"truncated.jpg", "corrupt JPEG: truncated"}}});
  cases.push_back({.name = "heic_named_jpg",
                   .archive = with_good_image("iphone.jpg", corpus::HeicBytes()),
                   .outcome = E2eCase::Outcome::kTrainingSucceeded,
                   .skipped = {{"iphone.jpg", "unsupported image format HEIF"}}});
  cases.push_back(
      {.name = "zip_nested",
       .archive = corpus::NestedAndIgnoredZip(),
       .outcome = E2eCase::Outcome::kTrainingSucceeded,
       .warnings = {"ignored photos/more.zip: an archive inside the archive (zip)",
                    "ignored photos/old.tar.gz: an archive inside the archive (gzip)",
                    "ignored __MACOSX/photos/._a.jpg: macOS metadata",
                    "ignored .DS_Store: hidden file"}});
  return cases;
}

// Every file and directory under `root` but the `excluded` top-level names, with its bytes.
std::map<std::string, std::string> Snapshot(const fs::path& root,
                                            const std::set<std::string>& excluded) {
  std::map<std::string, std::string> entries;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    const fs::path relative = fs::relative(it->path(), root);
    if (excluded.contains(relative.begin()->string())) {
      it.disable_recursion_pending();
      continue;
    }
    entries[relative.string()] = it->is_regular_file() ? corpus::ReadFileBytes(it->path())
                                                       : std::string("<dir>");
  }
  return entries;
}

// Paths named like a hostile entry's target ("evil", "easel-hostile") in `dir`, recursively
// or not.
std::vector<std::string> HostileNamesIn(const fs::path& dir, bool recursive) {
  std::vector<std::string> found;
  const auto check = [&](const fs::directory_entry& entry) {
    const std::string name = entry.path().filename().string();
    if (name.find("evil") != std::string::npos ||
        name.find("easel-hostile-") != std::string::npos) {
      found.push_back(entry.path().string());
    }
  };
  std::error_code error;
  if (recursive) {
    for (const auto& entry : fs::recursive_directory_iterator(dir, error)) check(entry);
  } else {
    for (const auto& entry : fs::directory_iterator(dir, error)) check(entry);
  }
  return found;
}

class HostileArchiveE2eTest : public testing::E2eFixture {
 protected:
  // Directories a hostile entry name could reach from the processes' working directories
  // and the work dir, looked at without recursion.
  static std::vector<fs::path> OutsideDirs() {
    const fs::path cwd = fs::current_path();
    return {cwd, cwd.parent_path(), dir_.parent_path(), "/tmp"};
  }

  // The outcome of one case whose training ran to its end.
  void ExpectTrainingOutcome(const E2eCase& c, const std::string& training_id) {
    std::vector<v1::TrainingEvent> events = WatchToEnd(training_id);
    ASSERT_FALSE(events.empty());
    ASSERT_TRUE(events.back().has_status());
    v1::Training training;
    grpc::Status got = GetTraining(training_id, &training);
    ASSERT_TRUE(got.ok()) << got.error_message();
    EXPECT_EQ(training.status(), events.back().status().status());

    if (c.outcome == E2eCase::Outcome::kTrainingFailed) {
      EXPECT_EQ(training.status(), v1::FAILED) << training.error();
      for (const std::string& part : c.error_parts) {
        EXPECT_THAT(training.error(), HasSubstr(part));
      }
      EXPECT_FALSE(training.has_dataset_report());
      return;
    }
    EXPECT_EQ(training.status(), v1::SUCCEEDED) << training.error();
    EXPECT_FALSE(training.output().version().empty());
    ASSERT_TRUE(training.has_dataset_report());
    const v1::DatasetReport& report = training.dataset_report();
    EXPECT_EQ(report.images_used(), 1);
    EXPECT_EQ(report.images_skipped(), static_cast<int64_t>(c.skipped.size()));
    std::map<std::string, std::string> skipped;
    for (const v1::SkippedFile& file : report.skipped()) skipped[file.source()] = file.reason();
    EXPECT_EQ(skipped.size(), c.skipped.size());
    for (const auto& [source, reason] : c.skipped) {
      ASSERT_TRUE(skipped.contains(source)) << source << " is not listed as skipped";
      EXPECT_THAT(skipped[source], HasSubstr(reason)) << source;
    }
    EXPECT_EQ(report.warning_count(), static_cast<int64_t>(c.warnings.size()));
    for (const std::string& warning : c.warnings) {
      EXPECT_THAT(report.warnings(), ::testing::Contains(HasSubstr(warning)));
    }
  }
};

TEST_F(HostileArchiveE2eTest, EveryCaseEndsInItsDocumentedOutcomeAndTheCoordinatorKeepsServing) {
  // The suite's own files besides the coordinator's data dir, the worker's work dir and the
  // logs (the base model, mostly) must not change.
  const std::set<std::string> excluded = {DataDir().filename().string(),
                                          WorkDir().filename().string(), "coordinator.log",
                                          "worker.log"};
  const auto before = Snapshot(dir_, excluded);
  for (const fs::path& dir : OutsideDirs()) {
    ASSERT_THAT(HostileNamesIn(dir, /*recursive=*/false), ::testing::IsEmpty())
        << "left over from an earlier run; remove it";
  }

  // Upload and create every training first: the worker runs them one after another.
  const std::vector<E2eCase> cases = Cases();
  std::map<std::string, std::string> training_ids;  // case name -> training id
  for (const E2eCase& c : cases) {
    SCOPED_TRACE("case " + c.name);
    v1::Dataset dataset;
    grpc::Status uploaded = Upload(c.name + ".zip", c.archive, Sha256Hex(c.archive), &dataset);
    if (c.outcome == E2eCase::Outcome::kUploadRefused) {
      EXPECT_EQ(uploaded.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
          << uploaded.error_message();
      for (const std::string& part : c.error_parts) {
        EXPECT_THAT(uploaded.error_message(), HasSubstr(part));
      }
      ExpectServing();
      continue;
    }
    ASSERT_TRUE(uploaded.ok()) << uploaded.error_message();
    ASSERT_TRUE(CreateModel("hostile", c.name).ok());
    v1::Training training;
    grpc::Status created = CreateTraining(
        "easel/tiny", "hostile/" + c.name,
        {{"input_images", dataset.name()}, {"max_train_steps", 2}, {"lora_rank", 2}},
        &training);
    ASSERT_TRUE(created.ok()) << created.error_message();
    training_ids[c.name] = training.id();
  }

  for (const E2eCase& c : cases) {
    if (!training_ids.contains(c.name)) continue;
    SCOPED_TRACE("case " + c.name);
    ExpectTrainingOutcome(c, training_ids[c.name]);
    ExpectServing();
  }

  EXPECT_EQ(Snapshot(dir_, excluded), before) << "files changed outside the work directory";
  EXPECT_THAT(HostileNamesIn(dir_, /*recursive=*/true), ::testing::IsEmpty());
  for (const fs::path& dir : OutsideDirs()) {
    EXPECT_THAT(HostileNamesIn(dir, /*recursive=*/false), ::testing::IsEmpty());
  }
  EXPECT_FALSE(fs::exists(corpus::kAbsolutePathTarget));
  EXPECT_FALSE(fs::exists(corpus::kDeepSlipTarget));
}

}  // namespace
}  // namespace easel
