#include "cli/output.h"

#include "gtest/gtest.h"

namespace easel::cli {
namespace {

TEST(FormatDatasetReportTest, SummaryThenSkippedFilesWithReasonsThenWarnings) {
  easel::v1::DatasetReport report;
  report.set_images_used(18);
  report.set_images_skipped(2);
  report.set_warning_count(1);
  report.add_used()->set_source("a.jpg");  // used images are in --json only
  auto* notes = report.add_skipped();
  notes->set_source("notes.txt");
  notes->set_reason("not an image");
  auto* duplicate = report.add_skipped();
  duplicate->set_source("b.jpg");
  duplicate->set_reason("a duplicate: the same pixels as a.jpg");
  report.add_warnings("caption.csv names missing.jpg, which is not in the archive");
  EXPECT_EQ(FormatDatasetReport(report),
            "Dataset:      18 images used, 2 skipped, 1 warning\n"
            "Skipped:      notes.txt: not an image\n"
            "              b.jpg: a duplicate: the same pixels as a.jpg\n"
            "Warnings:     caption.csv names missing.jpg, which is not in the archive\n");
}

TEST(FormatDatasetReportTest, SaysHowManyMoreWhenTheListsWereCut) {
  easel::v1::DatasetReport report;
  report.set_images_used(1);
  report.set_images_skipped(3);
  report.set_warning_count(2);
  auto* notes = report.add_skipped();
  notes->set_source("notes.txt");
  notes->set_reason("not an image");
  EXPECT_EQ(FormatDatasetReport(report),
            "Dataset:      1 image used, 3 skipped, 2 warnings\n"
            "Skipped:      notes.txt: not an image\n"
            "              … and 2 more\n"
            "Warnings:     … and 2 more\n");
}

TEST(FormatDatasetReportTest, CleanDatasetIsOneLine) {
  easel::v1::DatasetReport report;
  report.set_images_used(6);
  EXPECT_EQ(FormatDatasetReport(report), "Dataset:      6 images used, 0 skipped, 0 warnings\n");
}

}  // namespace
}  // namespace easel::cli
