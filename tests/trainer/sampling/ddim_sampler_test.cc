#include "trainer/sampling/ddim_sampler.h"

#include <cmath>
#include <functional>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "trainer/sampling/noise_schedule.h"

namespace easel::sampling {
namespace {

using ::testing::HasSubstr;

nlohmann::json StableDiffusionConfig() {
  return {{"num_train_timesteps", 1000},
          {"beta_start", 0.00085},
          {"beta_end", 0.012},
          {"beta_schedule", "scaled_linear"},
          {"prediction_type", "epsilon"},
          {"clip_sample", false},
          {"set_alpha_to_one", false},
          {"steps_offset", 1},
          {"timestep_spacing", "leading"}};
}

double AlphaBar(const nlohmann::json& config, int64_t t) {
  auto schedule = NoiseSchedule::FromConfig(config);
  EXPECT_TRUE(schedule.ok());
  return schedule->alphas_cumprod()[t].item<double>();
}

// Leading, 10 steps, offset 1: timesteps 901, 801, ..., 1; the previous timestep of t is
// t - 1000 // 10.
TEST(DdimSamplerTest, EpsilonStepIsTheClosedForm) {
  nlohmann::json config = StableDiffusionConfig();
  auto sampler = DdimSampler::Create(config, 10);
  ASSERT_TRUE(sampler.ok()) << sampler.status();
  torch::manual_seed(1);
  torch::Tensor x = torch::randn({2, 4, 3, 3}, torch::kFloat64);
  torch::Tensor eps = torch::randn({2, 4, 3, 3}, torch::kFloat64);
  const double a = AlphaBar(config, 901), a_prev = AlphaBar(config, 801);
  torch::Tensor x0 = (x - std::sqrt(1 - a) * eps) / std::sqrt(a);
  torch::Tensor expected = std::sqrt(a_prev) * x0 + std::sqrt(1 - a_prev) * eps;
  SamplerStep step = (*sampler)->Step(eps, 0, x);
  EXPECT_TRUE(torch::allclose(step.pred_original_sample, x0, 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(step.prev_sample, expected, 1e-6, 1e-6));
  EXPECT_TRUE(torch::equal((*sampler)->ScaleModelInput(x, 0), x));
  EXPECT_EQ((*sampler)->init_noise_sigma(), 1.0);
}

TEST(DdimSamplerTest, VelocityStepIsTheClosedForm) {
  nlohmann::json config = StableDiffusionConfig();
  config["prediction_type"] = "v_prediction";
  auto sampler = DdimSampler::Create(config, 10);
  ASSERT_TRUE(sampler.ok());
  torch::Tensor x = torch::randn({1, 4, 3, 3}, torch::kFloat64);
  torch::Tensor v = torch::randn({1, 4, 3, 3}, torch::kFloat64);
  const double a = AlphaBar(config, 401), a_prev = AlphaBar(config, 301);
  torch::Tensor x0 = std::sqrt(a) * x - std::sqrt(1 - a) * v;
  torch::Tensor eps = std::sqrt(a) * v + std::sqrt(1 - a) * x;
  SamplerStep step = (*sampler)->Step(v, 5, x);  // timesteps[5] = 401
  EXPECT_TRUE(torch::allclose(step.prev_sample,
                              std::sqrt(a_prev) * x0 + std::sqrt(1 - a_prev) * eps, 1e-6, 1e-6));
}

TEST(DdimSamplerTest, LastStepUsesFinalAlphaCumprod) {
  nlohmann::json config = StableDiffusionConfig();
  torch::Tensor x = torch::randn({1, 4, 2, 2}, torch::kFloat64);
  torch::Tensor eps = torch::randn({1, 4, 2, 2}, torch::kFloat64);
  // Timestep 1, previous 1 - 100 < 0: alphas_cumprod[0] without set_alpha_to_one, else 1.
  auto without = DdimSampler::Create(config, 10);
  ASSERT_TRUE(without.ok());
  EXPECT_EQ((*without)->AlphasCumprodAt(9).second, static_cast<float>(AlphaBar(config, 0)));
  config["set_alpha_to_one"] = true;
  auto with = DdimSampler::Create(config, 10);
  ASSERT_TRUE(with.ok());
  EXPECT_EQ((*with)->AlphasCumprodAt(9).second, 1.0f);
  SamplerStep step = (*with)->Step(eps, 9, x);
  EXPECT_TRUE(torch::allclose(step.prev_sample, step.pred_original_sample));
}

TEST(DdimSamplerTest, PreviousTimestepIsTrainStepsOverStepsWhateverTheSpacing) {
  // diffusers: prev_timestep = timestep - 1000 // 10, also for linspace's 999, 888, ...
  nlohmann::json config = StableDiffusionConfig();
  config["timestep_spacing"] = "linspace";
  auto sampler = DdimSampler::Create(config, 10);
  ASSERT_TRUE(sampler.ok());
  auto [alpha, alpha_prev] = (*sampler)->AlphasCumprodAt(1);
  EXPECT_EQ(alpha, static_cast<float>(AlphaBar(config, 888)));
  EXPECT_EQ(alpha_prev, static_cast<float>(AlphaBar(config, 788)));
}

TEST(DdimSamplerTest, ClipSampleClampsTheEstimate) {
  nlohmann::json config = StableDiffusionConfig();
  config.erase("clip_sample");  // diffusers' DDIMScheduler clips by default
  config["clip_sample_range"] = 0.5;
  auto sampler = DdimSampler::Create(config, 10);
  ASSERT_TRUE(sampler.ok());
  torch::Tensor x = 10 * torch::randn({1, 4, 4, 4});
  SamplerStep step = (*sampler)->Step(torch::zeros_like(x), 0, x);
  EXPECT_LE(step.pred_original_sample.abs().max().item<float>(), 0.5f);
  config["thresholding"] = true;
  auto refused = DdimSampler::Create(config, 10);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("thresholding"));
}

// The sampler layer against an exact model: the prediction that the sample at timestep t came
// from x0 (epsilon = (x_t - sqrt(a_t) x0) / sqrt(1 - a_t), v = sqrt(a_t) eps - sqrt(1 - a_t) x0).
// With eta 0 each step lands on sqrt(a_prev) x0 + sqrt(1 - a_prev) eps, and the last, with
// set_alpha_to_one, on x0.
torch::Tensor RunWithExactModel(const nlohmann::json& config, int64_t steps,
                                const torch::Tensor& x0, const torch::Tensor& start) {
  auto schedule = NoiseSchedule::FromConfig(config);
  auto sampler = DdimSampler::Create(config, steps);
  EXPECT_TRUE(schedule.ok() && sampler.ok());
  torch::Tensor x = start * (*sampler)->init_noise_sigma();
  for (int64_t i = 0; i < (*sampler)->num_steps(); ++i) {
    const int64_t t = (*sampler)->timesteps()[i].item<int64_t>();
    const double a = schedule->alphas_cumprod()[t].item<double>();
    torch::Tensor eps = (x - std::sqrt(a) * x0) / std::sqrt(1 - a);
    torch::Tensor output = schedule->prediction_type() == PredictionType::kEpsilon
                               ? eps
                               : std::sqrt(a) * eps - std::sqrt(1 - a) * x0;
    x = (*sampler)->Step(output, i, (*sampler)->ScaleModelInput(x, i)).prev_sample;
  }
  return x;
}

TEST(DdimSamplerTest, ExactEpsilonModelRecoversTheSample) {
  nlohmann::json config = StableDiffusionConfig();
  config["set_alpha_to_one"] = true;
  torch::manual_seed(2);
  torch::Tensor x0 = torch::randn({1, 4, 8, 8});
  torch::Tensor noise = torch::randn({1, 4, 8, 8});
  EXPECT_TRUE(torch::allclose(RunWithExactModel(config, 20, x0, noise), x0, 1e-4, 1e-4));
}

TEST(DdimSamplerTest, ExactVelocityModelWithZeroTerminalSnrRecoversTheSample) {
  nlohmann::json config = StableDiffusionConfig();
  config["set_alpha_to_one"] = true;
  config["prediction_type"] = "v_prediction";
  config["rescale_betas_zero_snr"] = true;
  config["timestep_spacing"] = "trailing";  // starts at 999, where alpha_bar is 0
  torch::manual_seed(3);
  torch::Tensor x0 = torch::randn({1, 4, 8, 8});
  torch::Tensor noise = torch::randn({1, 4, 8, 8});
  EXPECT_TRUE(torch::allclose(RunWithExactModel(config, 10, x0, noise), x0, 1e-4, 1e-4));
}

}  // namespace
}  // namespace easel::sampling
