#ifndef EASEL_TRAINER_DATA_DATA_ORDER_H_
#define EASEL_TRAINER_DATA_DATA_ORDER_H_

#include <cstdint>
#include <random>
#include <vector>

namespace easel::data {

// The order in which training visits dataset items: a fresh seeded permutation per epoch,
// batches drawn in sequence across epoch boundaries. Same seed, same sequence, on every
// platform (mt19937_64 and a hand-written Fisher-Yates shuffle).
class DataOrder {
 public:
  DataOrder(int64_t size, uint64_t seed);

  std::vector<int64_t> NextBatch(int64_t batch_size);
  // Items handed out so far (for checkpoints: replaying Skip(position) restores the order).
  int64_t position() const { return position_; }
  void Skip(int64_t items);

 private:
  void Reshuffle();

  int64_t size_;
  std::mt19937_64 rng_;
  std::vector<int64_t> permutation_;
  int64_t cursor_ = 0;
  int64_t position_ = 0;
};

}  // namespace easel::data

#endif  // EASEL_TRAINER_DATA_DATA_ORDER_H_
