#include "cli/progress_bar.h"

#include "gtest/gtest.h"

namespace easel::cli {
namespace {

easel::v1::Progress MakeProgress(int64_t step, int64_t total) {
  easel::v1::Progress progress;
  progress.set_phase("train");
  progress.set_step(step);
  progress.set_total(total);
  progress.set_loss(0.113);
  progress.set_iterations_per_second(7.21);
  progress.set_eta_seconds(76);
  return progress;
}

TEST(ProgressBarTest, TqdmStyleLine) {
  EXPECT_EQ(FormatProgress(MakeProgress(450, 1000), 62, 10),
            "train  45%|████▌     | 450/1000 [01:02<01:16, 7.21it/s, loss=0.113]");
}

TEST(ProgressBarTest, EmptyAndFullBars) {
  EXPECT_NE(FormatProgress(MakeProgress(0, 10), 0, 4).find("  0%|    |"), std::string::npos);
  EXPECT_NE(FormatProgress(MakeProgress(10, 10), 0, 4).find("100%|████|"), std::string::npos);
  EXPECT_NE(FormatProgress(MakeProgress(3, 0), 0, 4).find("  0%|"), std::string::npos);
}

TEST(ProgressBarTest, UnknownRateAndNoLossWhilePreprocessing) {
  easel::v1::Progress progress = MakeProgress(2, 6);
  progress.set_phase("preprocess");
  progress.set_iterations_per_second(0);
  EXPECT_EQ(FormatProgress(progress, 1, 6), "preprocess  33%|██    | 2/6 [00:01<01:16, ?it/s]");
}

TEST(ProgressBarTest, Durations) {
  EXPECT_EQ(FormatDuration(0), "00:00");
  EXPECT_EQ(FormatDuration(62), "01:02");
  EXPECT_EQ(FormatDuration(3723), "1:02:03");
  EXPECT_EQ(FormatDuration(-5), "00:00");
}

}  // namespace
}  // namespace easel::cli
