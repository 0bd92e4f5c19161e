#include "trainer/data/data_order.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

namespace easel::data {
namespace {

TEST(DataOrderTest, EachEpochVisitsEveryItemOnce) {
  DataOrder order(7, 42);
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::vector<int64_t> seen = order.NextBatch(7);
    std::sort(seen.begin(), seen.end());
    std::vector<int64_t> all(7);
    std::iota(all.begin(), all.end(), 0);
    EXPECT_EQ(seen, all) << "epoch " << epoch;
  }
  EXPECT_EQ(order.position(), 21);
}

TEST(DataOrderTest, SameSeedSameSequenceOtherSeedOtherSequence) {
  DataOrder a(10, 1), b(10, 1), c(10, 2);
  std::vector<int64_t> from_a, from_b, from_c;
  for (int i = 0; i < 8; ++i) {
    for (int64_t v : a.NextBatch(3)) from_a.push_back(v);
    for (int64_t v : b.NextBatch(3)) from_b.push_back(v);
    for (int64_t v : c.NextBatch(3)) from_c.push_back(v);
  }
  EXPECT_EQ(from_a, from_b);
  EXPECT_NE(from_a, from_c);
}

TEST(DataOrderTest, SkipResumesTheSameSequence) {
  DataOrder full(5, 9);
  full.NextBatch(8);
  std::vector<int64_t> expected = full.NextBatch(6);
  DataOrder resumed(5, 9);
  resumed.Skip(8);
  EXPECT_EQ(resumed.position(), 8);
  EXPECT_EQ(resumed.NextBatch(6), expected);
}

TEST(DataOrderTest, BatchLargerThanDatasetWrapsIntoNextEpoch) {
  DataOrder order(2, 3);
  std::vector<int64_t> batch = order.NextBatch(5);
  ASSERT_EQ(batch.size(), 5u);
  for (int64_t v : batch) EXPECT_TRUE(v == 0 || v == 1);
}

}  // namespace
}  // namespace easel::data
