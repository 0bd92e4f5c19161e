#include "trainer/data/bucket_batch_order.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <set>
#include <vector>

#include "trainer/data/data_order.h"

namespace easel::data {
namespace {

using ::testing::ElementsAre;

using Batches = std::vector<std::vector<int64_t>>;

// 14 items in three buckets of 5, 2 and 7.
const Batches kBuckets = {{0, 2, 5, 7, 9}, {1, 3}, {4, 6, 8, 10, 11, 12, 13}};

Batches Take(BucketBatchOrder& order, int count) {
  Batches out;
  for (int i = 0; i < count; ++i) out.push_back(order.NextBatch());
  return out;
}

int BucketOf(int64_t item) {
  for (size_t b = 0; b < kBuckets.size(); ++b) {
    if (std::count(kBuckets[b].begin(), kBuckets[b].end(), item) > 0) return static_cast<int>(b);
  }
  return -1;
}

TEST(BucketBatchOrderTest, OneBucketIsTheDataOrderSequence) {
  for (int64_t batch_size : {1, 2, 3, 5, 9}) {
    for (uint64_t seed : {0u, 7u, 42u}) {
      BucketBatchOrder bucketed({{0, 1, 2, 3, 4, 5, 6}}, batch_size, seed);
      DataOrder plain(7, seed);
      for (int step = 0; step < 20; ++step) {
        ASSERT_EQ(bucketed.NextBatch(), plain.NextBatch(batch_size))
            << "batch size " << batch_size << " seed " << seed << " step " << step;
      }
      EXPECT_EQ(bucketed.position(), 20);
    }
  }
  // A bucket of other indices maps DataOrder's positions onto them.
  BucketBatchOrder mapped({{10, 20, 30}}, 2, 5);
  DataOrder plain(3, 5);
  for (int step = 0; step < 6; ++step) {
    std::vector<int64_t> expected;
    for (int64_t i : plain.NextBatch(2)) expected.push_back((i + 1) * 10);
    EXPECT_EQ(mapped.NextBatch(), expected);
  }
}

TEST(BucketBatchOrderTest, BatchesNeverMixBuckets) {
  BucketBatchOrder order(kBuckets, 2, 3);
  for (const std::vector<int64_t>& batch : Take(order, 60)) {
    ASSERT_FALSE(batch.empty());
    ASSERT_LE(batch.size(), 2u);
    for (int64_t item : batch) EXPECT_EQ(BucketOf(item), BucketOf(batch.front()));
  }
}

TEST(BucketBatchOrderTest, EachEpochVisitsEveryItemOnce) {
  for (int64_t batch_size : {1, 2, 3, 4, 8}) {
    // ceil(5 / B) + ceil(2 / B) + ceil(7 / B) batches an epoch.
    int per_epoch = 0;
    for (const auto& bucket : kBuckets) {
      per_epoch += static_cast<int>((bucket.size() + batch_size - 1) / batch_size);
    }
    BucketBatchOrder order(kBuckets, batch_size, 11);
    for (int epoch = 0; epoch < 4; ++epoch) {
      std::vector<int64_t> seen;
      int short_batches = 0;
      for (const std::vector<int64_t>& batch : Take(order, per_epoch)) {
        seen.insert(seen.end(), batch.begin(), batch.end());
        short_batches += static_cast<int64_t>(batch.size()) < batch_size;
      }
      std::sort(seen.begin(), seen.end());
      std::vector<int64_t> all(14);
      std::iota(all.begin(), all.end(), 0);
      EXPECT_EQ(seen, all) << "batch size " << batch_size << " epoch " << epoch;
      // A bucket's last batch is short when the batch size does not divide it.
      int expected_short = 0;
      for (const auto& bucket : kBuckets) {
        expected_short += static_cast<int64_t>(bucket.size()) % batch_size != 0;
      }
      EXPECT_EQ(short_batches, expected_short) << "batch size " << batch_size;
    }
  }
}

TEST(BucketBatchOrderTest, EpochsDifferAndBatchesOfBucketsInterleave) {
  BucketBatchOrder order(kBuckets, 2, 1);
  Batches first = Take(order, 8), second = Take(order, 8);
  EXPECT_NE(first, second);
  // The batch list is shuffled: not all of one bucket's batches first.
  std::vector<int> buckets;
  for (const auto& batch : first) buckets.push_back(BucketOf(batch.front()));
  EXPECT_FALSE(std::is_sorted(buckets.begin(), buckets.end()));
}

TEST(BucketBatchOrderTest, SameSeedSameSequenceOtherSeedOtherSequence) {
  BucketBatchOrder a(kBuckets, 3, 1), b(kBuckets, 3, 1), c(kBuckets, 3, 2);
  Batches from_a = Take(a, 30), from_b = Take(b, 30), from_c = Take(c, 30);
  EXPECT_EQ(from_a, from_b);
  EXPECT_NE(from_a, from_c);
}

// mt19937_64 and the Fisher-Yates shuffle are fully specified, so these are the batches on
// every platform and compiler. A change here changes every bucketed training's data order.
TEST(BucketBatchOrderTest, SequenceIsPinned) {
  BucketBatchOrder order(kBuckets, 3, 42);
  EXPECT_THAT(Take(order, 6),
              ElementsAre(ElementsAre(0, 2), ElementsAre(4, 10, 6), ElementsAre(13),
                          ElementsAre(8, 12, 11), ElementsAre(1, 3), ElementsAre(5, 7, 9)));
}

TEST(BucketBatchOrderTest, SkipRestoresTheOrderAtEveryPosition) {
  for (int64_t batch_size : {1, 2, 3}) {
    BucketBatchOrder full(kBuckets, batch_size, 9);
    const Batches expected = Take(full, 45);
    for (int64_t position = 0; position <= 40; ++position) {
      BucketBatchOrder resumed(kBuckets, batch_size, 9);
      resumed.Skip(position);
      ASSERT_EQ(resumed.position(), position);
      for (int64_t i = position; i < position + 5; ++i) {
        ASSERT_EQ(resumed.NextBatch(), expected[i])
            << "batch size " << batch_size << " resumed at " << position;
      }
    }
  }
}

TEST(BucketBatchOrderTest, PositionAfterBatchesResumesInPieces) {
  BucketBatchOrder full(kBuckets, 2, 5);
  Take(full, 13);
  const int64_t position = full.position();
  EXPECT_EQ(position, 13);
  const Batches next = Take(full, 10);

  BucketBatchOrder resumed(kBuckets, 2, 5);
  resumed.Skip(6);
  resumed.Skip(0);
  resumed.Skip(position - 6);
  EXPECT_EQ(resumed.position(), position);
  EXPECT_EQ(Take(resumed, 10), next);

  // One bucket: batches, not items, are counted.
  BucketBatchOrder single({{0, 1, 2, 3, 4}}, 2, 9);
  Take(single, 4);
  const Batches single_next = Take(single, 3);
  BucketBatchOrder single_resumed({{0, 1, 2, 3, 4}}, 2, 9);
  single_resumed.Skip(4);
  EXPECT_EQ(single_resumed.position(), 4);
  EXPECT_EQ(Take(single_resumed, 3), single_next);
}

TEST(BucketBatchOrderTest, BatchLargerThanABucketTakesTheWholeBucket) {
  BucketBatchOrder order({{0, 1}, {2, 3, 4}}, 5, 3);
  for (const std::vector<int64_t>& batch : Take(order, 6)) {
    std::set<int64_t> items(batch.begin(), batch.end());
    EXPECT_EQ(items.size(), batch.size());
    EXPECT_TRUE(items == std::set<int64_t>({0, 1}) || items == std::set<int64_t>({2, 3, 4}));
  }
}

TEST(BucketBatchOrderTest, EmptyBucketsAreIgnored) {
  BucketBatchOrder order({{}, {0, 1}, {}, {2}}, 1, 4);
  std::vector<int64_t> seen;
  for (const auto& batch : Take(order, 3)) seen.insert(seen.end(), batch.begin(), batch.end());
  std::sort(seen.begin(), seen.end());
  EXPECT_THAT(seen, ElementsAre(0, 1, 2));
}

}  // namespace
}  // namespace easel::data
