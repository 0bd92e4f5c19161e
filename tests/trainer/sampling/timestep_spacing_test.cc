#include "trainer/sampling/timestep_spacing.h"

#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "trainer/sampling/ddim_sampler.h"
#include "trainer/sampling/euler_sampler.h"

namespace easel::sampling {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

nlohmann::json Config(const char* spacing, int64_t steps_offset) {
  return {{"num_train_timesteps", 1000}, {"beta_start", 0.00085},
          {"beta_end", 0.012},           {"beta_schedule", "scaled_linear"},
          {"clip_sample", false},        {"timestep_spacing", spacing},
          {"steps_offset", steps_offset}};
}

std::vector<int64_t> DdimTimesteps(const nlohmann::json& config, int64_t steps) {
  auto sampler = DdimSampler::Create(config, steps);
  EXPECT_TRUE(sampler.ok()) << sampler.status();
  if (!sampler.ok()) return {};
  const torch::Tensor& t = (*sampler)->timesteps();
  EXPECT_EQ(t.scalar_type(), torch::kLong);
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
}

std::vector<float> EulerTimesteps(const nlohmann::json& config, int64_t steps) {
  auto sampler = EulerSampler::Create(config, steps);
  EXPECT_TRUE(sampler.ok()) << sampler.status();
  if (!sampler.ok()) return {};
  const torch::Tensor& t = (*sampler)->timesteps();
  EXPECT_EQ(t.scalar_type(), torch::kFloat32);
  return std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
}

// Expected values are diffusers' set_timesteps worked by hand (1000 train steps):
//   leading:  step_ratio = 1000 // n; arange(n) * step_ratio, reversed, + steps_offset
//   trailing: round(arange(1000, 0, -1000 / n)) - 1
//   linspace: linspace(0, 999, n) reversed; DDIM rounds it (half to even), Euler does not.
TEST(TimestepSpacingTest, LeadingTenStepsWithOffsetOne) {
  // 100 * (9, 8, ..., 0) + 1.
  const std::vector<int64_t> expected = {901, 801, 701, 601, 501, 401, 301, 201, 101, 1};
  EXPECT_EQ(DdimTimesteps(Config("leading", 1), 10), expected);
  EXPECT_THAT(EulerTimesteps(Config("leading", 1), 10),
              ElementsAre(901, 801, 701, 601, 501, 401, 301, 201, 101, 1));
}

TEST(TimestepSpacingTest, LeadingUsesIntegerStepRatio) {
  // 1000 // 3 = 333: 333 * (2, 1, 0).
  EXPECT_THAT(DdimTimesteps(Config("leading", 0), 3), ElementsAre(666, 333, 0));
}

TEST(TimestepSpacingTest, TrailingEndsAtZero) {
  // arange(1000, 0, -100) = 1000, 900, ..., 100; minus one.
  EXPECT_THAT(DdimTimesteps(Config("trailing", 1), 10),
              ElementsAre(999, 899, 799, 699, 599, 499, 399, 299, 199, 99));
  // 1000 / 3 = 333.33...: 1000, 666.67, 333.33 round to 1000, 667, 333; minus one.
  EXPECT_THAT(DdimTimesteps(Config("trailing", 0), 3), ElementsAre(999, 666, 332));
  EXPECT_THAT(EulerTimesteps(Config("trailing", 0), 3), ElementsAre(999, 666, 332));
}

TEST(TimestepSpacingTest, LinspaceRoundsForDdimOnly) {
  // linspace(0, 999, 10) steps by 111 exactly.
  EXPECT_THAT(DdimTimesteps(Config("linspace", 0), 10),
              ElementsAre(999, 888, 777, 666, 555, 444, 333, 222, 111, 0));
  // linspace(0, 999, 3) = 0, 499.5, 999: DDIM rounds 499.5 half to even (500); Euler keeps it.
  EXPECT_THAT(DdimTimesteps(Config("linspace", 0), 3), ElementsAre(999, 500, 0));
  EXPECT_THAT(EulerTimesteps(Config("linspace", 0), 3), ElementsAre(999.0f, 499.5f, 0.0f));
  // 999 / 24 = 41.625: the second timestep is 999 - 41.625.
  std::vector<float> euler = EulerTimesteps(Config("linspace", 0), 25);
  ASSERT_EQ(euler.size(), 25u);
  EXPECT_EQ(euler[1], 957.375f);
}

TEST(TimestepSpacingTest, DefaultsDifferPerSampler) {
  nlohmann::json config = Config("leading", 0);
  config.erase("timestep_spacing");
  config.erase("steps_offset");
  // DDIMScheduler defaults to leading, EulerDiscreteScheduler to linspace.
  EXPECT_THAT(DdimTimesteps(config, 4), ElementsAre(750, 500, 250, 0));
  EXPECT_THAT(EulerTimesteps(config, 4), ElementsAre(999, 666, 333, 0));
}

// numpy's arange(1000, 0, -1000 / 61) has 62 elements: 1000 / (1000 / 61) is a hair over 61,
// and the last element, about 1e-13, rounds to 0, giving timestep -1 (checked with numpy 1.24;
// diffusers inherits it). Euler keeps it as diffusers does; DDIM, which would index
// alphas_cumprod[-1], refuses.
TEST(TimestepSpacingTest, TrailingArangeQuirkMatchesNumpy) {
  std::vector<double> trailing = SpacedTimesteps(TimestepSpacing::kTrailing, 1000, 61, 0);
  ASSERT_EQ(trailing.size(), 62u);
  EXPECT_EQ(trailing.back(), -1);
  EXPECT_EQ(EulerTimesteps(Config("trailing", 0), 61).size(), 62u);
  auto ddim = DdimSampler::Create(Config("trailing", 0), 61);
  ASSERT_FALSE(ddim.ok());
  EXPECT_THAT(std::string(ddim.status().message()), HasSubstr("timestep_spacing"));
}

TEST(TimestepSpacingTest, NumpyHelpersMatchNumpy) {
  // np.arange(10, 0, -2.5) = [10, 7.5, 5, 2.5]; np.linspace(0, 1, 5) = [0, .25, .5, .75, 1].
  EXPECT_THAT(NumpyArange(10, 0, -2.5), ElementsAre(10, 7.5, 5, 2.5));
  EXPECT_THAT(NumpyLinspace(0, 1, 5), ElementsAre(0, 0.25, 0.5, 0.75, 1));
  EXPECT_THAT(NumpyLinspace(0, 999, 1), ElementsAre(0));
}

TEST(TimestepSpacingTest, BadSpacingNamesTheField) {
  auto ddim = DdimSampler::Create(Config("sideways", 0), 10);
  ASSERT_FALSE(ddim.ok());
  EXPECT_EQ(ddim.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ddim.status().message()), HasSubstr("timestep_spacing"));
  auto euler = EulerSampler::Create(Config("sideways", 0), 10);
  ASSERT_FALSE(euler.ok());
  EXPECT_THAT(std::string(euler.status().message()), HasSubstr("timestep_spacing"));
}

TEST(TimestepSpacingTest, StepCountOutOfRangeIsRefused) {
  for (int64_t steps : {0, 1001}) {
    auto ddim = DdimSampler::Create(Config("leading", 0), steps);
    ASSERT_FALSE(ddim.ok());
    EXPECT_THAT(std::string(ddim.status().message()), HasSubstr("num_inference_steps"));
    auto euler = EulerSampler::Create(Config("leading", 0), steps);
    ASSERT_FALSE(euler.ok());
    EXPECT_THAT(std::string(euler.status().message()), HasSubstr("num_inference_steps"));
  }
  // leading with 1000 steps and steps_offset 1 would reach timestep 1000.
  auto ddim = DdimSampler::Create(Config("leading", 1), 1000);
  ASSERT_FALSE(ddim.ok());
  EXPECT_THAT(std::string(ddim.status().message()), HasSubstr("steps_offset"));
}

}  // namespace
}  // namespace easel::sampling
