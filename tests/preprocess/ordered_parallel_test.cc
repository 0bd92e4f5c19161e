#include "preprocess/ordered_parallel.h"

#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace easel::preprocess {
namespace {

using ::testing::HasSubstr;

TEST(RunInOrderTest, CommitsInIndexOrderWhateverTheWorkers) {
  for (int workers : {1, 2, 3, 8}) {
    std::vector<int> committed;
    std::atomic<int> worked = 0;
    const absl::Status status = RunInOrder<int>(
        50, workers,
        [&](int worker, int index) -> absl::StatusOr<int> {
          EXPECT_GE(worker, 0);
          EXPECT_LT(worker, workers);
          ++worked;
          return index * index;
        },
        [&](int index, int square) {
          EXPECT_EQ(square, index * index);
          committed.push_back(index);
          return absl::OkStatus();
        });
    ASSERT_TRUE(status.ok()) << status;
    EXPECT_EQ(worked, 50);
    ASSERT_EQ(committed.size(), 50u) << workers;
    for (int i = 0; i < 50; ++i) EXPECT_EQ(committed[i], i) << workers;
  }
}

TEST(RunInOrderTest, NothingToDoIsFine) {
  const absl::Status status = RunInOrder<int>(
      0, 4, [](int, int) -> absl::StatusOr<int> { return 0; },
      [](int, int) { return absl::OkStatus(); });
  EXPECT_TRUE(status.ok());
}

TEST(RunInOrderTest, AFailureStopsTheRunAndIsReturned) {
  std::vector<int> committed;
  const absl::Status status = RunInOrder<int>(
      1000, 1,
      [](int, int index) -> absl::StatusOr<int> {
        if (index == 5) return absl::DataLossError("disk ate image 5");
        return index;
      },
      [&](int index, int) {
        committed.push_back(index);
        return absl::OkStatus();
      });
  EXPECT_TRUE(absl::IsDataLoss(status));
  EXPECT_EQ(committed, (std::vector<int>{0, 1, 2, 3, 4}));

  const absl::Status commit_failure = RunInOrder<int>(
      100, 3, [](int, int index) -> absl::StatusOr<int> { return index; },
      [](int index, int) {
        return index == 7 ? absl::InternalError("cannot write 7") : absl::OkStatus();
      });
  EXPECT_EQ(commit_failure.message(), "cannot write 7");
}

TEST(RunInOrderTest, AnExceptionBecomesAnInternalError) {
  const absl::Status status = RunInOrder<int>(
      10, 2,
      [](int, int index) -> absl::StatusOr<int> {
        if (index == 3) throw std::runtime_error("boom");
        return index;
      },
      [](int, int) { return absl::OkStatus(); });
  EXPECT_TRUE(absl::IsInternal(status));
  EXPECT_THAT(std::string(status.message()), HasSubstr("boom"));
}

}  // namespace
}  // namespace easel::preprocess
