#include "trainer/data/bucket_batch_order.h"

#include <algorithm>
#include <utility>

namespace easel::data {
namespace {

std::vector<std::vector<int64_t>> NonEmpty(std::vector<std::vector<int64_t>> buckets) {
  std::erase_if(buckets, [](const std::vector<int64_t>& bucket) { return bucket.empty(); });
  if (buckets.empty()) buckets.push_back({0});
  return buckets;
}

// The same Fisher-Yates as DataOrder's.
template <typename T>
void Shuffle(std::vector<T>& items, std::mt19937_64& rng) {
  for (int64_t i = static_cast<int64_t>(items.size()) - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(items[i], items[j]);
  }
}

}  // namespace

BucketBatchOrder::BucketBatchOrder(std::vector<std::vector<int64_t>> buckets, int64_t batch_size,
                                   uint64_t seed)
    : buckets_(NonEmpty(std::move(buckets))),
      batch_size_(std::max<int64_t>(batch_size, 1)),
      single_(static_cast<int64_t>(buckets_.front().size()), seed),
      rng_(seed) {}

void BucketBatchOrder::Reshuffle() {
  epoch_.clear();
  for (const std::vector<int64_t>& bucket : buckets_) {
    std::vector<int64_t> items = bucket;
    Shuffle(items, rng_);
    for (size_t begin = 0; begin < items.size(); begin += batch_size_) {
      const size_t end = std::min(items.size(), begin + static_cast<size_t>(batch_size_));
      epoch_.emplace_back(items.begin() + begin, items.begin() + end);
    }
  }
  Shuffle(epoch_, rng_);
  cursor_ = 0;
}

std::vector<int64_t> BucketBatchOrder::NextBatch() {
  ++position_;
  if (buckets_.size() == 1) {
    std::vector<int64_t> batch = single_.NextBatch(batch_size_);
    for (int64_t& item : batch) item = buckets_.front()[item];
    return batch;
  }
  if (cursor_ == epoch_.size()) Reshuffle();
  return epoch_[cursor_++];
}

void BucketBatchOrder::Skip(int64_t batches) {
  if (batches <= 0) return;
  position_ += batches;
  if (buckets_.size() == 1) {
    single_.Skip(batches * batch_size_);
    return;
  }
  for (int64_t i = 0; i < batches; ++i) {
    if (cursor_ == epoch_.size()) Reshuffle();
    ++cursor_;
  }
}

}  // namespace easel::data
