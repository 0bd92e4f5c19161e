// Faults on loopback with real processes: kill -9 the trainer, a worker or the coordinator in
// the middle of a training, and repeat a create request. Each training must end succeeded with
// exactly one version whose weights exist, and a training resumed from a checkpoint must
// publish the very bytes an uninterrupted one does.

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/sha256.h"
#include "easel/v1/models.grpc.pb.h"
#include "easel/v1/trainings.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/e2e_fixture.h"
#include "tests/testing/dataset_zip.h"
#include "tests/testing/server_process.h"

namespace easel {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kSteps = 40;
constexpr int kCheckpointEvery = 10;

// The processes (pid, parent pid, command name) under /proc.
struct ProcessInfo {
  pid_t pid = 0;
  pid_t parent = 0;
  std::string name;
};

std::vector<ProcessInfo> Processes() {
  std::vector<ProcessInfo> processes;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split at the last ')'.
    const size_t open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    ProcessInfo info;
    info.pid = std::stoi(pid);
    info.name = line.substr(open + 1, close - open - 1);
    std::istringstream rest(line.substr(close + 2));
    char state;
    rest >> state >> info.parent;
    processes.push_back(info);
  }
  return processes;
}

// The newest easel-trainer child of one of `workers`, if one runs.
std::optional<ProcessInfo> RunningTrainer(const std::vector<int>& workers) {
  std::optional<ProcessInfo> newest;
  for (const ProcessInfo& process : Processes()) {
    if (process.name != "easel-trainer") continue;
    const bool ours = std::find(workers.begin(), workers.end(), process.parent) != workers.end();
    if (ours && (!newest.has_value() || process.pid > newest->pid)) newest = process;
  }
  return newest;
}

// Blocks until process `pid` (not necessarily a child) has exited.
void AwaitExit(pid_t pid) {
  const int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return;  // already gone
  pollfd readable{fd, POLLIN, 0};
  while (poll(&readable, 1, -1) < 0 && errno == EINTR) {
  }
  close(fd);
}

class FaultE2eTest : public testing::E2eFixture {
 protected:
  static void SetUpTestSuite() {
    // Leases short enough that a killed worker's task moves on within the test, long enough
    // for a busy 2-core CI machine to heartbeat in time.
    StartSuite({"--lease-seconds", "10", "--retry-backoff-seconds", "0"});
    const std::string zip = ZipBytes(testing::ExampleDatasetEntries());
    v1::Dataset dataset;
    grpc::Status uploaded = Upload("photos.zip", zip, Sha256Hex(zip), &dataset);
    ASSERT_TRUE(uploaded.ok()) << uploaded.error_message();
    dataset_name_ = dataset.name();
    // The reference: the same training, never interrupted.
    ASSERT_TRUE(CreateModel("faults", "reference").ok());
    v1::Training reference = Train("faults/reference");
    std::vector<v1::TrainingEvent> events = WatchToEnd(reference.id());
    ASSERT_FALSE(events.empty());
    ASSERT_EQ(events.back().status().status(), v1::SUCCEEDED) << events.back().status().error();
    reference_weights_ = events.back().training().output().weights_digest();
  }

  // A training into `destination` with the inputs every test here uses.
  static v1::Training Train(const std::string& destination, const std::string& request_id = "") {
    v1::Training training;
    grpc::Status created = CreateTraining(
        "easel/tiny", destination,
        {{"input_images", dataset_name_}, {"max_train_steps", kSteps}, {"resolution", 32},
         {"lora_rank", 4},
         {"learning_rate", 1e-3}, {"seed", 11}, {"checkpointing_steps", kCheckpointEvery}},
        &training, request_id);
    EXPECT_TRUE(created.ok()) << created.error_message();
    return training;
  }

  // Watches training `id` until one of its log lines holds `text`.
  static bool WaitForLog(const std::string& id, const std::string& text) {
    grpc::ClientContext context;
    v1::WatchTrainingRequest request;
    request.set_id(id);
    auto reader = trainings_->WatchTraining(&context, request);
    for (v1::TrainingEvent event; reader->Read(&event);) {
      if (event.has_log() && event.log().text().find(text) != std::string::npos) {
        context.TryCancel();
        reader->Finish().IgnoreError();
        return true;
      }
    }
    reader->Finish().IgnoreError();
    return false;
  }

  // The training ended succeeded, with one version in `destination` whose weights are the
  // reference's and exist in the blob store.
  static void ExpectOneVersionWithTheReferenceWeights(const std::string& id,
                                                      const std::string& destination) {
    std::vector<v1::TrainingEvent> events = WatchToEnd(id);
    ASSERT_FALSE(events.empty());
    ASSERT_TRUE(events.back().has_status());
    ASSERT_EQ(events.back().status().status(), v1::SUCCEEDED) << events.back().status().error();
    v1::ListVersionsRequest request;
    request.set_model(destination);
    v1::ListVersionsResponse versions;
    grpc::ClientContext context;
    ASSERT_TRUE(models_->ListVersions(&context, request, &versions).ok());
    ASSERT_EQ(versions.versions_size(), 1);
    const std::string& weights = versions.versions(0).weights_digest();
    EXPECT_EQ(weights, reference_weights_);
    EXPECT_TRUE(std::filesystem::is_regular_file(DataDir() / "blobs" / "sha256" /
                                                 weights.substr(0, 2) / weights));
  }

  static inline std::string dataset_name_;
  static inline std::string reference_weights_;
};

TEST_F(FaultE2eTest, KilledTrainerIsRetriedFromItsLatestCheckpoint) {
  ASSERT_TRUE(CreateModel("faults", "trainer-killed").ok());
  v1::Training training = Train("faults/trainer-killed");
  ASSERT_TRUE(WaitForLog(training.id(), "checkpoint saved at step"));
  std::optional<ProcessInfo> trainer = RunningTrainer(WorkerPids());
  ASSERT_TRUE(trainer.has_value()) << "no easel-trainer under a worker";
  ASSERT_EQ(kill(trainer->pid, SIGKILL), 0);

  ExpectOneVersionWithTheReferenceWeights(training.id(), "faults/trainer-killed");
  v1::Training done;
  ASSERT_TRUE(GetTraining(training.id(), &done).ok());
  EXPECT_THAT(done.logs(), HasSubstr("attempt 1 failed (crash): training failed (killed by "
                                     "signal 9"));
  EXPECT_THAT(done.logs(), HasSubstr("train attempt 2 leased to worker"));
  EXPECT_THAT(done.logs(), HasSubstr("; resuming from the checkpoint at step"));
  EXPECT_THAT(done.logs(), HasSubstr("resuming from checkpoint step-"));
  EXPECT_EQ(done.checkpoint_step() % kCheckpointEvery, 0);
  EXPECT_GT(done.checkpoint_step(), 0);
}

TEST_F(FaultE2eTest, KilledWorkerHandsItsTaskToAnotherWorkerThatResumes) {
  ASSERT_NE(StartWorker("second"), nullptr);
  ASSERT_TRUE(CreateModel("faults", "worker-killed").ok());
  v1::Training training = Train("faults/worker-killed");
  ASSERT_TRUE(WaitForLog(training.id(), "checkpoint saved at step"));
  std::optional<ProcessInfo> trainer = RunningTrainer(WorkerPids());
  ASSERT_TRUE(trainer.has_value()) << "no easel-trainer under either worker";
  ASSERT_EQ(kill(trainer->parent, SIGKILL), 0);
  // The orphaned trainer stops too: its next event meets a closed pipe.
  AwaitExit(trainer->pid);

  ExpectOneVersionWithTheReferenceWeights(training.id(), "faults/worker-killed");
  v1::Training done;
  ASSERT_TRUE(GetTraining(training.id(), &done).ok());
  EXPECT_THAT(done.logs(), HasSubstr("expired; requeued"));
  EXPECT_THAT(done.logs(), HasSubstr("; resuming from the checkpoint at step"));
  if (trainer->parent == worker_->pid()) RestartWorker();
}

TEST_F(FaultE2eTest, AFrozenWorkerThatWakesAfterItsLeaseMovedOnIsRefusedAndStops) {
  ASSERT_NE(StartWorker("second-to-freeze"), nullptr);
  ASSERT_TRUE(CreateModel("faults", "worker-frozen").ok());
  v1::Training training = Train("faults/worker-frozen");
  ASSERT_TRUE(WaitForLog(training.id(), "checkpoint saved at step"));
  std::optional<ProcessInfo> trainer = RunningTrainer(WorkerPids());
  ASSERT_TRUE(trainer.has_value()) << "no easel-trainer under a worker";
  // Freeze the worker and its trainer: no heartbeats, so the lease expires and the other
  // worker resumes the task from its checkpoint and publishes.
  ASSERT_EQ(kill(trainer->parent, SIGSTOP), 0);
  ASSERT_EQ(kill(trainer->pid, SIGSTOP), 0);
  ExpectOneVersionWithTheReferenceWeights(training.id(), "faults/worker-frozen");

  // Wake the stale worker: its writes are refused, it stops its trainer and publishes nothing.
  ASSERT_EQ(kill(trainer->pid, SIGCONT), 0);
  ASSERT_EQ(kill(trainer->parent, SIGCONT), 0);
  AwaitExit(trainer->pid);
  v1::Training done;
  ASSERT_TRUE(GetTraining(training.id(), &done).ok());
  EXPECT_EQ(done.status(), v1::SUCCEEDED);
  EXPECT_THAT(done.logs(), HasSubstr("expired; requeued"));
  ExpectOneVersionWithTheReferenceWeights(training.id(), "faults/worker-frozen");
  std::string worker_logs;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    if (entry.path().extension() != ".log") continue;
    std::ifstream in(entry.path());
    worker_logs.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  EXPECT_THAT(worker_logs, HasSubstr("lease of task"));
  EXPECT_THAT(worker_logs, HasSubstr("stale lease"));
}

TEST_F(FaultE2eTest, KilledCoordinatorRestartsAndTheRunningLeaseContinues) {
  ASSERT_TRUE(CreateModel("faults", "coordinator-killed").ok());
  v1::Training training = Train("faults/coordinator-killed");
  ASSERT_TRUE(WaitForLog(training.id(), "checkpoint saved at step"));
  ASSERT_EQ(kill(coordinator_->pid(), SIGKILL), 0);
  RestartCoordinator();
  ExpectServing();

  ExpectOneVersionWithTheReferenceWeights(training.id(), "faults/coordinator-killed");
  v1::Training done;
  ASSERT_TRUE(GetTraining(training.id(), &done).ok());
  EXPECT_THAT(done.logs(), Not(HasSubstr("attempt 2")));
}

TEST_F(FaultE2eTest, RepeatedCreateRequestMakesOneTrainingAndOneVersion) {
  ASSERT_TRUE(CreateModel("faults", "repeated").ok());
  v1::Training first = Train("faults/repeated", "repeated-request-1");
  v1::Training second = Train("faults/repeated", "repeated-request-1");
  EXPECT_EQ(first.id(), second.id());
  ExpectOneVersionWithTheReferenceWeights(first.id(), "faults/repeated");
}

}  // namespace
}  // namespace easel
