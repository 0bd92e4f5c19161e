#include "trainer/sampling/noise_schedule.h"

#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

namespace easel::sampling {
namespace {

using ::testing::HasSubstr;

nlohmann::json StableDiffusionConfig() {
  return {{"num_train_timesteps", 1000},
          {"beta_start", 0.00085},
          {"beta_end", 0.012},
          {"beta_schedule", "scaled_linear"},
          {"prediction_type", "epsilon"}};
}

TEST(NoiseScheduleTest, AlphasCumprodDecreaseStrictlyWithinUnitInterval) {
  for (const char* kind : {"linear", "scaled_linear", "squaredcos_cap_v2"}) {
    nlohmann::json config = StableDiffusionConfig();
    config["beta_schedule"] = kind;
    auto schedule = NoiseSchedule::FromConfig(config);
    ASSERT_TRUE(schedule.ok()) << schedule.status();
    const torch::Tensor& a = schedule->alphas_cumprod();
    ASSERT_EQ(a.size(0), 1000) << kind;
    EXPECT_TRUE((a > 0).all().item<bool>()) << kind;
    EXPECT_TRUE((a < 1).all().item<bool>()) << kind;
    EXPECT_TRUE((a.slice(0, 1) < a.slice(0, 0, -1)).all().item<bool>()) << kind;
  }
}

TEST(NoiseScheduleTest, FirstAlphaIsOneMinusBetaStart) {
  auto schedule = NoiseSchedule::FromConfig(StableDiffusionConfig());
  ASSERT_TRUE(schedule.ok());
  EXPECT_NEAR(schedule->alphas_cumprod()[0].item<double>(), 1 - 0.00085, 1e-6);
  nlohmann::json linear = {{"beta_schedule", "linear"}, {"beta_start", 0.001}, {"beta_end", 0.02}};
  auto linear_schedule = NoiseSchedule::FromConfig(linear);
  ASSERT_TRUE(linear_schedule.ok());
  // With a linear schedule, a_1 / a_0 = 1 - beta_1 and beta_1 is one step up the line.
  const torch::Tensor& a = linear_schedule->alphas_cumprod();
  double beta_1 = 0.001 + (0.02 - 0.001) / 999;
  EXPECT_NEAR((a[1] / a[0]).item<double>(), 1 - beta_1, 1e-6);
}

TEST(NoiseScheduleTest, AddNoiseMixesPerRowTimestep) {
  auto schedule = NoiseSchedule::FromConfig(StableDiffusionConfig());
  ASSERT_TRUE(schedule.ok());
  torch::manual_seed(0);
  torch::Tensor x0 = torch::randn({3, 4, 2, 2});
  torch::Tensor noise = torch::randn({3, 4, 2, 2});
  torch::Tensor t = torch::tensor({0, 500, 999}, torch::kLong);
  torch::Tensor noisy = schedule->AddNoise(x0, noise, t);
  for (int64_t i = 0; i < 3; ++i) {
    double a = schedule->alphas_cumprod()[t[i].item<int64_t>()].item<double>();
    torch::Tensor expected = std::sqrt(a) * x0[i] + std::sqrt(1 - a) * noise[i];
    EXPECT_TRUE(torch::allclose(noisy[i], expected, 1e-5, 1e-6)) << "row " << i;
  }
  // Late timesteps are mostly noise; the first is mostly signal.
  auto corr = [](const torch::Tensor& u, const torch::Tensor& v) {
    return torch::cosine_similarity(u.flatten(), v.flatten(), 0).item<double>();
  };
  EXPECT_GT(corr(noisy[0], x0[0]), 0.99);
  EXPECT_GT(corr(noisy[2], noise[2]), 0.99);
}

TEST(NoiseScheduleTest, EpsilonTargetIsTheNoise) {
  auto schedule = NoiseSchedule::FromConfig(StableDiffusionConfig());
  ASSERT_TRUE(schedule.ok());
  torch::Tensor x0 = torch::randn({2, 4, 2, 2});
  torch::Tensor noise = torch::randn({2, 4, 2, 2});
  torch::Tensor t = torch::tensor({10, 900}, torch::kLong);
  EXPECT_TRUE(torch::equal(schedule->Target(x0, noise, t), noise));
}

TEST(NoiseScheduleTest, VelocityTargetRecoversSignalAndNoise) {
  nlohmann::json config = StableDiffusionConfig();
  config["prediction_type"] = "v_prediction";
  auto schedule = NoiseSchedule::FromConfig(config);
  ASSERT_TRUE(schedule.ok());
  EXPECT_EQ(schedule->prediction_type(), PredictionType::kVPrediction);
  torch::Tensor x0 = torch::randn({2, 4, 3, 3}, torch::kFloat64);
  torch::Tensor noise = torch::randn({2, 4, 3, 3}, torch::kFloat64);
  torch::Tensor t = torch::tensor({100, 700}, torch::kLong);
  torch::Tensor noisy = schedule->AddNoise(x0, noise, t);
  torch::Tensor v = schedule->Target(x0, noise, t);
  // With a = sqrt(a_t), s = sqrt(1 - a_t): x0 = a * noisy - s * v and noise = s * noisy + a * v.
  torch::Tensor a =
      schedule->alphas_cumprod().index_select(0, t).to(torch::kFloat64).view({2, 1, 1, 1});
  torch::Tensor signal = a.sqrt(), sigma = (1 - a).sqrt();
  EXPECT_TRUE(torch::allclose(signal * noisy - sigma * v, x0, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(sigma * noisy + signal * v, noise, 1e-5, 1e-6));
}

TEST(NoiseScheduleTest, MissingFieldsTakeDiffusersDefaults) {
  auto schedule = NoiseSchedule::FromConfig(nlohmann::json::object());
  ASSERT_TRUE(schedule.ok());
  EXPECT_EQ(schedule->num_train_timesteps(), 1000);
  EXPECT_EQ(schedule->beta_schedule(), "linear");
  EXPECT_EQ(schedule->prediction_type(), PredictionType::kEpsilon);
}

nlohmann::json ZeroSnrConfig() {
  nlohmann::json config = StableDiffusionConfig();
  config["rescale_betas_zero_snr"] = true;
  return config;
}

TEST(NoiseScheduleTest, ZeroTerminalSnrEndsOnPureNoiseAndKeepsTheStart) {
  auto plain = NoiseSchedule::FromConfig(StableDiffusionConfig());
  auto rescaled = NoiseSchedule::FromConfig(ZeroSnrConfig());
  ASSERT_TRUE(plain.ok() && rescaled.ok()) << rescaled.status();
  EXPECT_FALSE(plain->zero_terminal_snr());
  EXPECT_TRUE(rescaled->zero_terminal_snr());
  const torch::Tensor& a = rescaled->alphas_cumprod();
  EXPECT_EQ(a[-1].item<float>(), 0.0f);
  EXPECT_NEAR(std::sqrt(a[0].item<double>()), std::sqrt(plain->alphas_cumprod()[0].item<double>()),
              1e-6);
  EXPECT_TRUE((a.slice(0, 1) < a.slice(0, 0, -1)).all().item<bool>());
}

// Lin et al. 2023, Algorithm 1: sqrt(a'_t) = (sqrt(a_t) - sqrt(a_T)) * sqrt(a_0) /
// (sqrt(a_0) - sqrt(a_T)); the betas are recovered from it, so the cumulative product returns it.
TEST(NoiseScheduleTest, ZeroTerminalSnrFollowsTheClosedForm) {
  auto plain = NoiseSchedule::FromConfig(StableDiffusionConfig());
  auto rescaled = NoiseSchedule::FromConfig(ZeroSnrConfig());
  ASSERT_TRUE(plain.ok() && rescaled.ok());
  torch::Tensor root = plain->alphas_cumprod().to(torch::kFloat64).sqrt();
  const double first = root[0].item<double>(), last = root[-1].item<double>();
  torch::Tensor expected = ((root - last) * (first / (first - last))).pow(2);
  EXPECT_TRUE(
      torch::allclose(rescaled->alphas_cumprod().to(torch::kFloat64), expected, 1e-4, 1e-7));
}

TEST(NoiseScheduleTest, ZeroTerminalSnrVelocityAtTheLastStepIsMinusTheSignal) {
  nlohmann::json config = ZeroSnrConfig();
  config["prediction_type"] = "v_prediction";
  auto schedule = NoiseSchedule::FromConfig(config);
  ASSERT_TRUE(schedule.ok());
  torch::Tensor x0 = torch::randn({1, 4, 2, 2});
  torch::Tensor noise = torch::randn({1, 4, 2, 2});
  torch::Tensor t = torch::tensor({999}, torch::kLong);
  EXPECT_TRUE(torch::equal(schedule->AddNoise(x0, noise, t), noise));
  EXPECT_TRUE(torch::allclose(schedule->Target(x0, noise, t), -x0));
}

TEST(NoiseScheduleTest, TrainedBetasReplaceTheSchedule) {
  nlohmann::json config = {{"num_train_timesteps", 3}, {"trained_betas", {0.1, 0.2, 0.5}}};
  auto schedule = NoiseSchedule::FromConfig(config);
  ASSERT_TRUE(schedule.ok()) << schedule.status();
  torch::Tensor expected = torch::tensor({0.9, 0.9 * 0.8, 0.9 * 0.8 * 0.5}, torch::kFloat32);
  EXPECT_TRUE(torch::allclose(schedule->alphas_cumprod(), expected));
  config["trained_betas"] = {0.1, 0.2};
  auto wrong_length = NoiseSchedule::FromConfig(config);
  ASSERT_FALSE(wrong_length.ok());
  EXPECT_THAT(std::string(wrong_length.status().message()), HasSubstr("trained_betas"));
}

TEST(NoiseScheduleTest, BadConfigNamesTheField) {
  struct Case {
    const char* field;
    nlohmann::json value;
  };
  for (const Case& c : {Case{"num_train_timesteps", -5}, Case{"num_train_timesteps", "many"},
                        Case{"beta_start", "small"}, Case{"beta_start", 0}, Case{"beta_end", 2.0},
                        Case{"beta_schedule", "exotic"}, Case{"prediction_type", "sample"},
                        Case{"rescale_betas_zero_snr", "yes"}}) {
    nlohmann::json config = StableDiffusionConfig();
    config[c.field] = c.value;
    auto schedule = NoiseSchedule::FromConfig(config);
    ASSERT_FALSE(schedule.ok()) << c.field << "=" << c.value.dump();
    EXPECT_EQ(schedule.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(schedule.status().message()), HasSubstr(c.field));
  }
}

}  // namespace
}  // namespace easel::sampling
