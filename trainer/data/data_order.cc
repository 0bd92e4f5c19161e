#include "trainer/data/data_order.h"

#include <numeric>
#include <utility>

namespace easel::data {

DataOrder::DataOrder(int64_t size, uint64_t seed) : size_(size > 0 ? size : 1), rng_(seed) {
  permutation_.resize(size_);
  Reshuffle();
}

void DataOrder::Reshuffle() {
  std::iota(permutation_.begin(), permutation_.end(), 0);
  for (int64_t i = size_ - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(rng_() % static_cast<uint64_t>(i + 1));
    std::swap(permutation_[i], permutation_[j]);
  }
  cursor_ = 0;
}

std::vector<int64_t> DataOrder::NextBatch(int64_t batch_size) {
  std::vector<int64_t> batch;
  batch.reserve(batch_size);
  for (int64_t i = 0; i < batch_size; ++i) {
    if (cursor_ == size_) Reshuffle();
    batch.push_back(permutation_[cursor_++]);
    ++position_;
  }
  return batch;
}

void DataOrder::Skip(int64_t items) {
  for (int64_t i = 0; i < items; ++i) {
    if (cursor_ == size_) Reshuffle();
    ++cursor_;
    ++position_;
  }
}

}  // namespace easel::data
