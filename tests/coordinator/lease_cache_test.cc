#include "coordinator/scheduler/lease_cache.h"

#include "gtest/gtest.h"

namespace easel::coordinator {
namespace {

TEST(LeaseCacheTest, AnswersOnlyForItsEpochAndWhileTheStoredEndIsFarEnough) {
  LeaseCache cache;
  cache.Remember("task", 3, 1000, "training", cache.generation());
  EXPECT_EQ(cache.StoredEnd("task", 3, 999), 1000);
  EXPECT_FALSE(cache.StoredEnd("task", 3, 1000).has_value());  // not after: ask the store
  EXPECT_FALSE(cache.StoredEnd("task", 4, 0).has_value());
  EXPECT_FALSE(cache.StoredEnd("other", 3, 0).has_value());
  cache.Forget("task");
  EXPECT_FALSE(cache.StoredEnd("task", 3, 0).has_value());
}

TEST(LeaseCacheTest, ACancelDropsTheTrainingsLeasesAndLeasesReadBeforeIt) {
  LeaseCache cache;
  cache.Remember("a", 1, 1000, "canceled", cache.generation());
  cache.Remember("b", 1, 1000, "running", cache.generation());
  uint64_t read_before_cancel = cache.generation();
  cache.ForgetTraining("canceled");
  EXPECT_FALSE(cache.StoredEnd("a", 1, 0).has_value());
  EXPECT_EQ(cache.StoredEnd("b", 1, 0), 1000);
  // A heartbeat that read its lease from the store before the cancel is not remembered: its
  // next heartbeat reads the store, and the cancel request with it.
  cache.Remember("a", 1, 2000, "canceled", read_before_cancel);
  EXPECT_FALSE(cache.StoredEnd("a", 1, 0).has_value());
  cache.Remember("a", 1, 2000, "canceled", cache.generation());
  EXPECT_EQ(cache.StoredEnd("a", 1, 0), 2000);
}

}  // namespace
}  // namespace easel::coordinator
