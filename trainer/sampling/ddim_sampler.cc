#include "trainer/sampling/ddim_sampler.h"

#include <cmath>
#include <exception>
#include <utility>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "trainer/sampling/scheduler_config.h"
#include "trainer/sampling/timestep_spacing.h"

namespace easel::sampling {

absl::StatusOr<std::unique_ptr<DdimSampler>> DdimSampler::Create(const nlohmann::json& config,
                                                                 int64_t num_inference_steps) {
  EASEL_ASSIGN_OR_RETURN(NoiseSchedule schedule, NoiseSchedule::FromConfig(config));
  EASEL_ASSIGN_OR_RETURN(TimestepSpacing spacing,
                         ParseTimestepSpacing(config, TimestepSpacing::kLeading));
  EASEL_ASSIGN_OR_RETURN(int64_t steps_offset, ConfigInteger(config, "steps_offset", 0));
  EASEL_ASSIGN_OR_RETURN(bool set_alpha_to_one, ConfigBool(config, "set_alpha_to_one", true));
  EASEL_ASSIGN_OR_RETURN(bool thresholding, ConfigBool(config, "thresholding", false));
  std::unique_ptr<DdimSampler> sampler(new DdimSampler());
  EASEL_ASSIGN_OR_RETURN(sampler->clip_sample_, ConfigBool(config, "clip_sample", true));
  EASEL_ASSIGN_OR_RETURN(sampler->clip_sample_range_,
                         ConfigNumber(config, "clip_sample_range", 1.0));
  if (thresholding) {
    return absl::InvalidArgumentError(
        "scheduler config: thresholding (dynamic thresholding) is not supported; set it false");
  }
  const int64_t train_steps = schedule.num_train_timesteps();
  if (num_inference_steps < 1 || num_inference_steps > train_steps) {
    return absl::InvalidArgumentError(absl::StrCat("num_inference_steps must be in [1, ",
                                                   train_steps, "], got ", num_inference_steps));
  }
  try {
    const torch::Tensor& alphas = schedule.alphas_cumprod();
    sampler->alphas_cumprod_.assign(alphas.data_ptr<float>(),
                                    alphas.data_ptr<float>() + alphas.numel());
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("reading alphas_cumprod: ", e.what()));
  }
  sampler->final_alpha_cumprod_ = set_alpha_to_one ? 1.0f : sampler->alphas_cumprod_[0];
  sampler->step_ratio_ = train_steps / num_inference_steps;
  sampler->prediction_type_ = schedule.prediction_type();
  for (double t : SpacedTimesteps(spacing, train_steps, num_inference_steps, steps_offset)) {
    const int64_t rounded = static_cast<int64_t>(std::nearbyint(t));
    if (rounded < 0) {
      // numpy's arange gives one element too many for some step counts (e.g. 61 of 1000);
      // diffusers then indexes alphas_cumprod[-1], the noisiest alpha, for the last step.
      return absl::InvalidArgumentError(absl::StrCat(
          "timestep_spacing trailing with num_inference_steps ", num_inference_steps,
          " ends on timestep ", rounded, " (as in diffusers); choose another step count"));
    }
    if (rounded >= train_steps) {
      return absl::InvalidArgumentError(
          absl::StrCat("scheduler config: steps_offset ", steps_offset, " puts timestep ", rounded,
                       " outside [0, num_train_timesteps = ", train_steps, ")"));
    }
    sampler->timestep_values_.push_back(rounded);
  }
  sampler->timesteps_ = torch::tensor(sampler->timestep_values_, torch::kLong);
  return sampler;
}

std::pair<float, float> DdimSampler::AlphasCumprodAt(int64_t step) const {
  const int64_t t = timestep_values_.at(step);
  const int64_t prev = t - step_ratio_;
  return {alphas_cumprod_[t], prev >= 0 ? alphas_cumprod_[prev] : final_alpha_cumprod_};
}

SamplerStep DdimSampler::Step(const torch::Tensor& model_output, int64_t step,
                              const torch::Tensor& sample) const {
  // Scalars in float32, as diffusers' 0-dim tensors compute them.
  const auto [alpha, alpha_prev] = AlphasCumprodAt(step);
  const float beta = 1.0f - alpha;
  const double sqrt_alpha = std::sqrt(alpha), sqrt_beta = std::sqrt(beta);
  torch::Tensor x0, eps;
  if (prediction_type_ == PredictionType::kEpsilon) {
    x0 = (sample - sqrt_beta * model_output) / sqrt_alpha;
    eps = model_output;
  } else {
    x0 = sqrt_alpha * sample - sqrt_beta * model_output;
    eps = sqrt_alpha * model_output + sqrt_beta * sample;
  }
  if (clip_sample_) x0 = x0.clamp(-clip_sample_range_, clip_sample_range_);
  const double direction = std::sqrt(1.0f - alpha_prev);
  torch::Tensor prev = static_cast<double>(std::sqrt(alpha_prev)) * x0 + direction * eps;
  return {prev, x0};
}

}  // namespace easel::sampling
