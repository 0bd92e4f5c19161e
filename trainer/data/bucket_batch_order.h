#ifndef EASEL_TRAINER_DATA_BUCKET_BATCH_ORDER_H_
#define EASEL_TRAINER_DATA_BUCKET_BATCH_ORDER_H_

#include <cstdint>
#include <random>
#include <vector>

#include "trainer/data/data_order.h"

namespace easel::data {

// The batches training visits when a batch may only hold items of one bucket (images of one
// size). Same buckets, batch size and seed: same sequence, on every platform (mt19937_64 and a
// hand-written Fisher-Yates shuffle, as DataOrder).
//
// One bucket (every square dataset): exactly DataOrder's sequence -- one seeded permutation
// per epoch, batches cut from consecutive permutations, so every batch is full and a batch
// may run across an epoch boundary.
//
// Several buckets, per epoch, from one mt19937_64 seeded with `seed`:
//   1. each bucket in the order given: its items (in the order given) shuffled by
//      Fisher-Yates, for i = n-1 down to 1: swap(items[i], items[rng() % (i + 1)]);
//   2. each shuffled bucket cut into batches of batch_size; a bucket's last batch holds what
//      is left (1..batch_size items; it is kept, so every item is visited once per epoch);
//   3. the list of batches (bucket by bucket, in order) shuffled the same way;
//   4. the batches handed out in that order, then the next epoch.
class BucketBatchOrder {
 public:
  // `buckets` holds item indices; empty buckets are ignored. batch_size < 1 counts as 1.
  BucketBatchOrder(std::vector<std::vector<int64_t>> buckets, int64_t batch_size, uint64_t seed);

  // The next batch: 1..batch_size items of one bucket.
  std::vector<int64_t> NextBatch();
  // Batches handed out so far. A fresh order with the same arguments that skips position()
  // batches hands out exactly the batches this one hands out next (for exact resume).
  int64_t position() const { return position_; }
  void Skip(int64_t batches);

 private:
  void Reshuffle();  // several buckets: the next epoch's batches

  std::vector<std::vector<int64_t>> buckets_;
  int64_t batch_size_;
  int64_t position_ = 0;
  // One bucket.
  DataOrder single_;
  // Several buckets.
  std::mt19937_64 rng_;
  std::vector<std::vector<int64_t>> epoch_;
  size_t cursor_ = 0;
};

}  // namespace easel::data

#endif  // EASEL_TRAINER_DATA_BUCKET_BATCH_ORDER_H_
