#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "trainer/worker/worker_agent.h"

namespace easel::worker {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

easel::v1::Device MakeDevice(const char* kind, int index) {
  easel::v1::Device device;
  device.set_kind(kind);
  device.set_index(index);
  return device;
}

easel::v1::Task TaskOn(const char* kind, int index) {
  easel::v1::Task task;
  task.set_kind(easel::v1::TASK_KIND_TRAIN);
  *task.mutable_device() = MakeDevice(kind, index);
  return task;
}

TEST(DeviceSlotsTest, ACpuOnlyWorkerRunsOneTaskAtATime) {
  DeviceSlots slots({MakeDevice("cpu", 0)});
  EXPECT_TRUE(slots.HasRoom());
  EXPECT_THAT(slots.IdlePositions(), ElementsAre(0));
  int position = slots.Acquire(TaskOn("cpu", 0));
  EXPECT_EQ(position, 0);
  EXPECT_FALSE(slots.HasRoom());
  slots.Release(position);
  EXPECT_TRUE(slots.HasRoom());
  EXPECT_THAT(slots.IdlePositions(), ElementsAre(0));
}

TEST(DeviceSlotsTest, AGpuWorkerRunsOneTaskPerGpuAndNeverOffersItsCpu) {
  DeviceSlots slots({MakeDevice("cpu", 0), MakeDevice("cuda", 0), MakeDevice("cuda", 1)});
  EXPECT_THAT(slots.IdlePositions(), ElementsAre(1, 2));
  int second_gpu = slots.Acquire(TaskOn("cuda", 1));
  EXPECT_EQ(second_gpu, 2);
  EXPECT_TRUE(slots.HasRoom());
  EXPECT_THAT(slots.IdlePositions(), ElementsAre(1));
  int first_gpu = slots.Acquire(TaskOn("cuda", 0));
  EXPECT_EQ(first_gpu, 1);
  EXPECT_FALSE(slots.HasRoom());
  EXPECT_THAT(slots.IdlePositions(), IsEmpty());
  slots.Release(second_gpu);
  EXPECT_THAT(slots.IdlePositions(), ElementsAre(2));
  EXPECT_EQ(slots.running(), 1);
}

TEST(DeviceSlotsTest, APreprocessTaskTakesAPlaceButNoDevice) {
  DeviceSlots slots({MakeDevice("cpu", 0), MakeDevice("cuda", 0), MakeDevice("cuda", 1)});
  easel::v1::Task preprocess;
  preprocess.set_kind(easel::v1::TASK_KIND_PREPROCESS);
  int none = slots.Acquire(preprocess);
  EXPECT_EQ(none, -1);
  EXPECT_THAT(slots.IdlePositions(), ElementsAre(1, 2));
  slots.Acquire(TaskOn("cuda", 0));
  EXPECT_FALSE(slots.HasRoom());  // two places, both taken
  slots.Release(none);
  EXPECT_TRUE(slots.HasRoom());
  EXPECT_THAT(slots.IdlePositions(), ElementsAre(2));
}

}  // namespace
}  // namespace easel::worker
