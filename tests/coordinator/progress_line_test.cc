#include "coordinator/scheduler/progress_line.h"

#include "gtest/gtest.h"

namespace easel::coordinator {
namespace {

v1::Progress Progress(int64_t step, int64_t total, double rate, double eta, double loss) {
  v1::Progress progress;
  progress.set_phase("train");
  progress.set_step(step);
  progress.set_total(total);
  progress.set_iterations_per_second(rate);
  progress.set_eta_seconds(eta);
  progress.set_loss(loss);
  return progress;
}

TEST(ProgressLineTest, MatchesTqdmsLayout) {
  // 450 steps at 7.21 it/s took 62.4 s: tqdm prints 01:02.
  EXPECT_EQ(TqdmLine(Progress(450, 1000, 7.21, 76.3, 0.1134)),
            "  45%|████▌     | 450/1000 [01:02<01:16,  7.21it/s, loss=0.113]");
}

TEST(ProgressLineTest, FullAndEmptyBars) {
  EXPECT_EQ(TqdmLine(Progress(0, 30, 0, 0, 0)), "   0%|          | 0/30 [00:00<?, ?it/s, loss=0]");
  EXPECT_EQ(TqdmLine(Progress(30, 30, 12.5, 0, 0.25)),
            " 100%|██████████| 30/30 [00:02<00:00, 12.50it/s, loss=0.25]");
}

TEST(ProgressLineTest, LongRunsShowHours) {
  EXPECT_EQ(TqdmLine(Progress(36000, 72000, 10, 3600, 0.5)),
            "  50%|█████     | 36000/72000 [1:00:00<1:00:00, 10.00it/s, loss=0.5]");
}

TEST(ProgressLineTest, WithoutATotalShowsStepsAndRate) {
  EXPECT_EQ(TqdmLine(Progress(7, 0, 2, 0, 1.5)), "7 it [00:04,  2.00it/s, loss=1.5]");
}

}  // namespace
}  // namespace easel::coordinator
