// A worker on a host with two GPUs runs two trainings at once, one per GPU. The host is a
// stand-in: its easel-trainer reports two CUDA devices and runs the real trainer on the CPU
// for whichever device the worker chose, so the test runs anywhere.

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "common/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/testing/dataset_zip.h"

namespace easel {
namespace {

constexpr char kTwoGpuTrainer[] = R"sh(#!/bin/bash
# easel-trainer on a stand-in host with two GPUs.
if [ "$1" = devices ]; then
  echo '{"event":"done","devices":[{"kind":"cuda","index":0,"name":"Stand-in GPU","memory_bytes":85899345920},{"kind":"cuda","index":1,"name":"Stand-in GPU","memory_bytes":85899345920}]}'
  exit 0
fi
echo "start $CUDA_VISIBLE_DEVICES" >> "$LOG"
# Wait, at most 120 s, for the other training to start: only a worker that runs both at once
# gets past this without a timeout.
for _ in $(seq 1200); do
  [ "$(grep -c '^start' "$LOG")" -ge 2 ] && break
  sleep 0.1
done
[ "$(grep -c '^start' "$LOG")" -ge 2 ] || echo "timeout $CUDA_VISIBLE_DEVICES" >> "$LOG"
args=()
for arg in "$@"; do
  if [ "$arg" = cuda ]; then args+=(cpu); else args+=("$arg"); fi
done
exec "$REAL" "${args[@]}"
)sh";

class MultiGpuE2eTest : public testing::E2eFixture {
 protected:
  static void SetUpTestSuite() { StartSuite({}, /*start_worker=*/false); }
};

TEST_F(MultiGpuE2eTest, ATwoGpuWorkerRunsTwoTrainingsAtOnceOnePerGpu) {
  const std::filesystem::path log = dir_ / "two-gpu-trainer.log";
  const std::filesystem::path trainer = dir_ / "two-gpu-trainer.sh";
  std::string script = kTwoGpuTrainer;
  script.insert(script.find('\n') + 1, "LOG=" + log.string() + "\nREAL=" EASEL_TRAINER_BIN "\n");
  std::ofstream(trainer) << script;
  ASSERT_EQ(chmod(trainer.c_str(), 0755), 0);
  worker_ = StartWorker("two-gpus", trainer.string());
  ASSERT_NE(worker_, nullptr);

  const std::string zip = ZipBytes(testing::ExampleDatasetEntries());
  v1::Dataset dataset;
  ASSERT_TRUE(Upload("photos.zip", zip, Sha256Hex(zip), &dataset).ok());
  std::vector<std::string> ids;
  for (const std::string name : {"first", "second"}) {
    ASSERT_TRUE(CreateModel("gpus", name).ok());
    v1::Training training;
    grpc::Status created = CreateTraining(
        "easel/tiny", "gpus/" + name,
        {{"input_images", dataset.name()}, {"max_train_steps", 10}, {"resolution", 32},
         {"lora_rank", 4}, {"seed", 5}},
        &training);
    ASSERT_TRUE(created.ok()) << created.error_message();
    ids.push_back(training.id());
  }
  for (const std::string& id : ids) {
    std::vector<v1::TrainingEvent> events = WatchToEnd(id);
    ASSERT_FALSE(events.empty());
    ASSERT_TRUE(events.back().has_status());
    EXPECT_EQ(events.back().status().status(), v1::SUCCEEDED) << events.back().status().error();
  }

  std::ifstream lines(log);
  std::set<std::string> started_on;
  std::string line;
  while (std::getline(lines, line)) {
    EXPECT_FALSE(line.starts_with("timeout")) << "the trainings ran one after the other";
    if (line.starts_with("start ")) started_on.insert(line.substr(6));
  }
  EXPECT_EQ(started_on, (std::set<std::string>{"0", "1"}));
}

}  // namespace
}  // namespace easel
