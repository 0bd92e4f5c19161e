#include "trainer/sampling/noise_schedule.h"

#include <cmath>
#include <exception>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "trainer/sampling/scheduler_config.h"

namespace easel::sampling {
namespace {

// Glide's cosine schedule, as diffusers' betas_for_alpha_bar (max beta 0.999).
torch::Tensor CosineBetas(int64_t steps) {
  auto alpha_bar = [](double t) {
    double v = std::cos((t + 0.008) / 1.008 * M_PI / 2);
    return v * v;
  };
  std::vector<double> betas(steps);
  for (int64_t i = 0; i < steps; ++i) {
    double t1 = static_cast<double>(i) / steps;
    double t2 = static_cast<double>(i + 1) / steps;
    betas[i] = std::min(1 - alpha_bar(t2) / alpha_bar(t1), 0.999);
  }
  return torch::tensor(betas, torch::kFloat64);
}

// Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are Flawed", Algorithm 1:
// shift and scale sqrt(alpha_bar) so that the last is 0 and the first is unchanged, then recover
// the betas. float32 throughout, in diffusers' order of operations.
torch::Tensor RescaleZeroTerminalSnr(const torch::Tensor& betas) {
  torch::Tensor sqrt_alpha_bar = torch::cumprod(1.0 - betas, 0).sqrt();
  torch::Tensor first = sqrt_alpha_bar[0].clone();
  torch::Tensor last = sqrt_alpha_bar[-1].clone();
  sqrt_alpha_bar = (sqrt_alpha_bar - last) * (first / (first - last));
  torch::Tensor alpha_bar = sqrt_alpha_bar.pow(2);
  torch::Tensor alphas =
      torch::cat({alpha_bar.slice(0, 0, 1), alpha_bar.slice(0, 1) / alpha_bar.slice(0, 0, -1)});
  return 1.0 - alphas;
}

absl::StatusOr<torch::Tensor> TrainedBetas(const nlohmann::json& value, int64_t steps) {
  bool valid = value.is_array() && static_cast<int64_t>(value.size()) == steps;
  std::vector<double> betas;
  for (size_t i = 0; valid && i < value.size(); ++i) {
    valid = value[i].is_number() && value[i].get<double>() >= 0 && value[i].get<double>() < 1;
    if (valid) betas.push_back(value[i].get<double>());
  }
  if (!valid) {
    return absl::InvalidArgumentError(
        absl::StrCat("scheduler config: trained_betas must be num_train_timesteps (", steps,
                     ") numbers in [0, 1)"));
  }
  return torch::tensor(betas, torch::kFloat64).to(torch::kFloat32);
}

}  // namespace

absl::StatusOr<NoiseSchedule> NoiseSchedule::FromConfig(const nlohmann::json& config) {
  if (!config.is_object()) {
    return absl::InvalidArgumentError("scheduler config: expected a JSON object");
  }
  NoiseSchedule schedule;
  if (config.contains("num_train_timesteps")) {
    const auto& steps = config["num_train_timesteps"];
    if (!steps.is_number_integer() || steps.get<int64_t>() < 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          "scheduler config: num_train_timesteps must be an integer >= 2, got ", steps.dump()));
    }
    schedule.num_train_timesteps_ = steps.get<int64_t>();
  }
  EASEL_ASSIGN_OR_RETURN(double beta_start, ConfigNumber(config, "beta_start", 0.0001));
  EASEL_ASSIGN_OR_RETURN(double beta_end, ConfigNumber(config, "beta_end", 0.02));
  EASEL_ASSIGN_OR_RETURN(std::string beta_schedule,
                         ConfigString(config, "beta_schedule", "linear"));
  EASEL_ASSIGN_OR_RETURN(std::string prediction,
                         ConfigString(config, "prediction_type", "epsilon"));
  EASEL_ASSIGN_OR_RETURN(schedule.zero_terminal_snr_,
                         ConfigBool(config, "rescale_betas_zero_snr", false));

  if (!(beta_start > 0 && beta_start < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("scheduler config: beta_start must be in (0, 1), got ", beta_start));
  }
  if (!(beta_end > 0 && beta_end < 1) || beta_end < beta_start) {
    return absl::InvalidArgumentError(absl::StrCat(
        "scheduler config: beta_end must be in (0, 1) and >= beta_start, got ", beta_end));
  }
  if (prediction == "epsilon") {
    schedule.prediction_type_ = PredictionType::kEpsilon;
  } else if (prediction == "v_prediction") {
    schedule.prediction_type_ = PredictionType::kVPrediction;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("scheduler config: prediction_type must be epsilon or v_prediction, got \"",
                     prediction, "\""));
  }

  try {
    const int64_t steps = schedule.num_train_timesteps_;
    torch::Tensor betas;
    if (beta_schedule == "linear") {
      betas = torch::linspace(beta_start, beta_end, steps, torch::kFloat32);
    } else if (beta_schedule == "scaled_linear") {
      betas = torch::linspace(std::sqrt(beta_start), std::sqrt(beta_end), steps, torch::kFloat32)
                  .pow(2);
    } else if (beta_schedule == "squaredcos_cap_v2") {
      betas = CosineBetas(steps).to(torch::kFloat32);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "scheduler config: beta_schedule must be linear, scaled_linear or squaredcos_cap_v2, "
          "got \"",
          beta_schedule, "\""));
    }
    if (config.contains("trained_betas") && !config["trained_betas"].is_null()) {
      EASEL_ASSIGN_OR_RETURN(betas, TrainedBetas(config["trained_betas"], steps));
    }
    if (schedule.zero_terminal_snr_) betas = RescaleZeroTerminalSnr(betas);
    schedule.beta_schedule_ = beta_schedule;
    schedule.alphas_cumprod_ = torch::cumprod(1.0 - betas, 0);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("building the noise schedule: ", e.what()));
  }
  return schedule;
}

std::pair<torch::Tensor, torch::Tensor> NoiseSchedule::Coefficients(
    const torch::Tensor& timesteps, const torch::Tensor& like) const {
  torch::Tensor alphas = alphas_cumprod_.to(like.device())
                             .index_select(0, timesteps.to(like.device(), torch::kLong))
                             .to(like.scalar_type());
  std::vector<int64_t> shape(like.dim(), 1);
  shape[0] = alphas.size(0);
  alphas = alphas.view(shape);
  return {alphas.sqrt(), (1.0 - alphas).sqrt()};
}

torch::Tensor NoiseSchedule::AddNoise(const torch::Tensor& x0, const torch::Tensor& noise,
                                      const torch::Tensor& timesteps) const {
  auto [signal, sigma] = Coefficients(timesteps, x0);
  return signal * x0 + sigma * noise;
}

torch::Tensor NoiseSchedule::Target(const torch::Tensor& x0, const torch::Tensor& noise,
                                    const torch::Tensor& timesteps) const {
  if (prediction_type_ == PredictionType::kEpsilon) return noise;
  auto [signal, sigma] = Coefficients(timesteps, x0);
  return signal * noise - sigma * x0;
}

}  // namespace easel::sampling
