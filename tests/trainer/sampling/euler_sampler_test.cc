#include "trainer/sampling/euler_sampler.h"

#include <cmath>

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
          {"timestep_spacing", "linspace"}};
}

// sigma(t) = sqrt((1 - alpha_bar_t) / alpha_bar_t), diffusers' sigma at a training timestep.
double TrainSigma(const nlohmann::json& config, int64_t t) {
  auto schedule = NoiseSchedule::FromConfig(config);
  EXPECT_TRUE(schedule.ok());
  const double a = schedule->alphas_cumprod()[t].item<double>();
  return std::sqrt((1 - a) / a);
}

TEST(EulerSamplerTest, SigmasFollowTheTimesteps) {
  nlohmann::json config = StableDiffusionConfig();
  auto sampler = EulerSampler::Create(config, 10);  // timesteps 999, 888, ..., 0
  ASSERT_TRUE(sampler.ok()) << sampler.status();
  const std::vector<float>& sigmas = (*sampler)->sigmas();
  ASSERT_EQ(sigmas.size(), 11u);
  for (int64_t i = 0; i < 10; ++i) {
    EXPECT_NEAR(sigmas[i], TrainSigma(config, 999 - 111 * i), 1e-5 * sigmas[i]) << i;
  }
  EXPECT_EQ(sigmas.back(), 0.0f);
  // linspace spacing: init_noise_sigma is the largest sigma.
  EXPECT_NEAR((*sampler)->init_noise_sigma(), sigmas[0], 1e-6);
}

TEST(EulerSamplerTest, FractionalTimestepInterpolatesSigmaLinearly) {
  nlohmann::json config = StableDiffusionConfig();
  auto sampler = EulerSampler::Create(config, 3);  // timesteps 999, 499.5, 0
  ASSERT_TRUE(sampler.ok());
  const double expected = (TrainSigma(config, 499) + TrainSigma(config, 500)) / 2;
  EXPECT_NEAR((*sampler)->sigmas()[1], expected, 1e-5 * expected);
}

TEST(EulerSamplerTest, LeadingSpacingScalesTheInitialNoise) {
  nlohmann::json config = StableDiffusionConfig();
  config["timestep_spacing"] = "leading";
  config["steps_offset"] = 1;
  auto sampler = EulerSampler::Create(config, 10);  // timesteps 901, ..., 1
  ASSERT_TRUE(sampler.ok());
  const double sigma = (*sampler)->sigmas()[0];
  EXPECT_NEAR(sigma, TrainSigma(config, 901), 1e-5 * sigma);
  EXPECT_NEAR((*sampler)->init_noise_sigma(), std::sqrt(sigma * sigma + 1), 1e-5);
}

TEST(EulerSamplerTest, FinalSigmaMinIsTheFirstTrainSigma) {
  nlohmann::json config = StableDiffusionConfig();
  config["final_sigmas_type"] = "sigma_min";
  auto sampler = EulerSampler::Create(config, 10);
  ASSERT_TRUE(sampler.ok());
  EXPECT_NEAR((*sampler)->sigmas().back(), TrainSigma(config, 0), 1e-7);
}

TEST(EulerSamplerTest, EpsilonStepIsTheClosedForm) {
  auto sampler = EulerSampler::Create(StableDiffusionConfig(), 10);
  ASSERT_TRUE(sampler.ok());
  torch::manual_seed(4);
  torch::Tensor x = torch::randn({2, 4, 3, 3});
  torch::Tensor eps = torch::randn({2, 4, 3, 3});
  const double sigma = (*sampler)->sigmas()[2], next = (*sampler)->sigmas()[3];
  EXPECT_TRUE(torch::allclose((*sampler)->ScaleModelInput(x, 2), x / std::sqrt(sigma * sigma + 1)));
  // x0 = x - sigma * eps; derivative (x - x0) / sigma = eps; x_next = x + eps * (next - sigma).
  SamplerStep step = (*sampler)->Step(eps, 2, x);
  EXPECT_TRUE(torch::allclose(step.pred_original_sample, x - sigma * eps, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(step.prev_sample, x + eps * (next - sigma), 1e-5, 1e-5));
}

TEST(EulerSamplerTest, VelocityStepIsTheClosedForm) {
  nlohmann::json config = StableDiffusionConfig();
  config["prediction_type"] = "v_prediction";
  auto sampler = EulerSampler::Create(config, 10);
  ASSERT_TRUE(sampler.ok());
  torch::Tensor x = torch::randn({1, 4, 3, 3});
  torch::Tensor v = torch::randn({1, 4, 3, 3});
  const double sigma = (*sampler)->sigmas()[4], next = (*sampler)->sigmas()[5];
  torch::Tensor x0 = -sigma / std::sqrt(sigma * sigma + 1) * v + x / (sigma * sigma + 1);
  SamplerStep step = (*sampler)->Step(v, 4, x);
  EXPECT_TRUE(torch::allclose(step.pred_original_sample, x0, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(step.prev_sample, x + (x - x0) / sigma * (next - sigma), 1e-5, 1e-5));
}

TEST(EulerSamplerTest, StepKeepsTheModelOutputDtype) {
  auto sampler = EulerSampler::Create(StableDiffusionConfig(), 10);
  ASSERT_TRUE(sampler.ok());
  torch::Tensor x = torch::randn({1, 4, 2, 2}, torch::kFloat64);
  torch::Tensor eps = torch::randn({1, 4, 2, 2}, torch::kFloat64);
  EXPECT_EQ((*sampler)->Step(eps, 0, x).prev_sample.scalar_type(), torch::kFloat64);
}

// diffusers sets the last alphas_cumprod to 2^-24 so the first sigma is finite:
// sqrt((1 - 2^-24) / 2^-24) = sqrt(2^24 - 1).
TEST(EulerSamplerTest, ZeroTerminalSnrStartsFromAFiniteSigma) {
  nlohmann::json config = StableDiffusionConfig();
  config["rescale_betas_zero_snr"] = true;
  config["timestep_spacing"] = "trailing";
  config["prediction_type"] = "v_prediction";
  auto sampler = EulerSampler::Create(config, 10);
  ASSERT_TRUE(sampler.ok());
  EXPECT_NEAR((*sampler)->sigmas()[0], std::sqrt(std::ldexp(1.0, 24) - 1), 1e-2);
  EXPECT_NEAR((*sampler)->init_noise_sigma(), (*sampler)->sigmas()[0], 1e-6);
}

// With the exact model (eps = (x - x0) / sigma in sigma space), every x0 estimate is x0 and
// the final step, to sigma 0, lands on it.
TEST(EulerSamplerTest, ExactModelRecoversTheSample) {
  for (const char* prediction : {"epsilon", "v_prediction"}) {
    nlohmann::json config = StableDiffusionConfig();
    config["prediction_type"] = prediction;
    auto sampler = EulerSampler::Create(config, 15);
    ASSERT_TRUE(sampler.ok());
    torch::manual_seed(5);
    torch::Tensor x0 = torch::randn({1, 4, 8, 8});
    torch::Tensor x = torch::randn({1, 4, 8, 8}) * (*sampler)->init_noise_sigma();
    for (int64_t i = 0; i < (*sampler)->num_steps(); ++i) {
      const double sigma = (*sampler)->sigmas()[i];
      torch::Tensor eps = (x - x0) / sigma;
      // In DDPM terms the scaled input is sqrt(a) x0 + sqrt(1 - a) eps, with a = 1 / (sigma^2 + 1).
      const double a = 1 / (sigma * sigma + 1);
      torch::Tensor output =
          std::string(prediction) == "epsilon" ? eps : std::sqrt(a) * eps - std::sqrt(1 - a) * x0;
      x = (*sampler)->Step(output, i, x).prev_sample;
    }
    EXPECT_TRUE(torch::allclose(x, x0, 1e-4, 1e-4)) << prediction;
  }
}

TEST(EulerSamplerTest, UnsupportedOptionsNameTheField) {
  for (const char* field : {"use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas"}) {
    nlohmann::json config = StableDiffusionConfig();
    config[field] = true;
    auto sampler = EulerSampler::Create(config, 10);
    ASSERT_FALSE(sampler.ok()) << field;
    EXPECT_THAT(std::string(sampler.status().message()), HasSubstr(field));
  }
  nlohmann::json config = StableDiffusionConfig();
  config["interpolation_type"] = "log_linear";
  auto sampler = EulerSampler::Create(config, 10);
  ASSERT_FALSE(sampler.ok());
  EXPECT_THAT(std::string(sampler.status().message()), HasSubstr("interpolation_type"));
  config = StableDiffusionConfig();
  config["final_sigmas_type"] = "one";
  sampler = EulerSampler::Create(config, 10);
  ASSERT_FALSE(sampler.ok());
  EXPECT_THAT(std::string(sampler.status().message()), HasSubstr("final_sigmas_type"));
}

}  // namespace
}  // namespace easel::sampling
