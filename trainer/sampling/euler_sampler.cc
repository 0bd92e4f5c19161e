#include "trainer/sampling/euler_sampler.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <string>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "trainer/sampling/scheduler_config.h"
#include "trainer/sampling/timestep_spacing.h"

namespace easel::sampling {
namespace {

// numpy.interp(x, arange(len(values)), values), in float64.
double InterpolateAtIndex(const std::vector<double>& values, double x) {
  const int64_t last = static_cast<int64_t>(values.size()) - 1;
  if (x <= 0) return values.front();
  if (x >= static_cast<double>(last)) return values.back();
  const int64_t j = static_cast<int64_t>(std::floor(x));
  if (static_cast<double>(j) == x) return values[j];
  const double slope = values[j + 1] - values[j];
  return slope * (x - static_cast<double>(j)) + values[j];
}

absl::Status RequireDefault(const nlohmann::json& config, const char* field, bool value) {
  EASEL_ASSIGN_OR_RETURN(bool set, ConfigBool(config, field, value));
  if (set != value) {
    return absl::InvalidArgumentError(absl::StrCat("scheduler config: ", field, " = ",
                                                   set ? "true" : "false",
                                                   " is not supported by the euler sampler"));
  }
  return absl::OkStatus();
}

absl::Status RequireString(const nlohmann::json& config, const char* field, const char* value) {
  EASEL_ASSIGN_OR_RETURN(std::string set, ConfigString(config, field, value));
  if (set != value) {
    return absl::InvalidArgumentError(
        absl::StrCat("scheduler config: ", field, " \"", set,
                     "\" is not supported by the euler sampler (only \"", value, "\")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<EulerSampler>> EulerSampler::Create(const nlohmann::json& config,
                                                                   int64_t num_inference_steps) {
  EASEL_ASSIGN_OR_RETURN(NoiseSchedule schedule, NoiseSchedule::FromConfig(config));
  EASEL_ASSIGN_OR_RETURN(TimestepSpacing spacing,
                         ParseTimestepSpacing(config, TimestepSpacing::kLinspace));
  EASEL_ASSIGN_OR_RETURN(int64_t steps_offset, ConfigInteger(config, "steps_offset", 0));
  EASEL_ASSIGN_OR_RETURN(std::string final_sigmas_type,
                         ConfigString(config, "final_sigmas_type", "zero"));
  if (final_sigmas_type != "zero" && final_sigmas_type != "sigma_min") {
    return absl::InvalidArgumentError(
        absl::StrCat("scheduler config: final_sigmas_type must be zero or sigma_min, got \"",
                     final_sigmas_type, "\""));
  }
  EASEL_RETURN_IF_ERROR(RequireString(config, "interpolation_type", "linear"));
  for (const char* field : {"use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas"}) {
    EASEL_RETURN_IF_ERROR(RequireDefault(config, field, false));
  }
  if (schedule.prediction_type() == PredictionType::kVPrediction) {
    EASEL_RETURN_IF_ERROR(RequireString(config, "timestep_type", "discrete"));
  }
  const int64_t train_steps = schedule.num_train_timesteps();
  if (num_inference_steps < 1 || num_inference_steps > train_steps) {
    return absl::InvalidArgumentError(absl::StrCat("num_inference_steps must be in [1, ",
                                                   train_steps, "], got ", num_inference_steps));
  }

  std::unique_ptr<EulerSampler> sampler(new EulerSampler());
  sampler->prediction_type_ = schedule.prediction_type();
  try {
    torch::Tensor alphas = schedule.alphas_cumprod().clone();
    if (schedule.zero_terminal_snr()) alphas[-1].fill_(std::ldexp(1.0, -24));
    torch::Tensor train_sigmas = ((1.0 - alphas) / alphas).sqrt().contiguous();
    std::vector<double> train_sigma_values(train_sigmas.data_ptr<float>(),
                                           train_sigmas.data_ptr<float>() + train_sigmas.numel());
    std::vector<float> timesteps;
    for (double t : SpacedTimesteps(spacing, train_steps, num_inference_steps, steps_offset)) {
      const float timestep = static_cast<float>(t);
      timesteps.push_back(timestep);
      sampler->sigmas_.push_back(
          static_cast<float>(InterpolateAtIndex(train_sigma_values, timestep)));
    }
    const float first_alpha = alphas[0].item<float>();
    sampler->sigmas_.push_back(
        final_sigmas_type == "zero" ? 0.0f : std::sqrt((1.0f - first_alpha) / first_alpha));
    sampler->timesteps_ = torch::tensor(timesteps, torch::kFloat32);
    const float max_sigma = *std::max_element(sampler->sigmas_.begin(), sampler->sigmas_.end());
    sampler->init_noise_sigma_ =
        spacing == TimestepSpacing::kLeading ? std::sqrt(max_sigma * max_sigma + 1.0f) : max_sigma;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("building the euler sigmas: ", e.what()));
  }
  return sampler;
}

torch::Tensor EulerSampler::ScaleModelInput(const torch::Tensor& sample, int64_t step) const {
  const float sigma = sigmas_.at(step);
  return sample / static_cast<double>(std::sqrt(sigma * sigma + 1.0f));
}

SamplerStep EulerSampler::Step(const torch::Tensor& model_output, int64_t step,
                               const torch::Tensor& sample) const {
  const float sigma = sigmas_.at(step);
  const float sigma_next = sigmas_.at(step + 1);
  torch::Tensor x = sample.to(torch::kFloat32);
  torch::Tensor x0;
  if (prediction_type_ == PredictionType::kEpsilon) {
    x0 = x - model_output * static_cast<double>(sigma);
  } else {
    const float sigma_squared_plus_one = sigma * sigma + 1.0f;
    const float c_out = -sigma / std::sqrt(sigma_squared_plus_one);
    x0 =
        model_output * static_cast<double>(c_out) + x / static_cast<double>(sigma_squared_plus_one);
  }
  torch::Tensor derivative = (x - x0) / static_cast<double>(sigma);
  torch::Tensor prev = x + derivative * static_cast<double>(sigma_next - sigma);
  return {prev.to(model_output.scalar_type()), x0};
}

}  // namespace easel::sampling
