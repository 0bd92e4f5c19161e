#include "trainer/sampling/noise_schedule.h"

#include <cmath>
#include <exception>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"

namespace easel::sampling {
namespace {

absl::StatusOr<double> NumberField(const nlohmann::json& config, const char* field,
                                   double fallback) {
  if (!config.contains(field) || config[field].is_null()) return fallback;
  if (!config[field].is_number()) {
    return absl::InvalidArgumentError(
        absl::StrCat("scheduler config: ", field, " must be a number, got ", config[field].dump()));
  }
  return config[field].get<double>();
}

absl::StatusOr<std::string> StringField(const nlohmann::json& config, const char* field,
                                        const char* fallback) {
  if (!config.contains(field) || config[field].is_null()) return std::string(fallback);
  if (!config[field].is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("scheduler config: ", field, " must be a string, got ", config[field].dump()));
  }
  return config[field].get<std::string>();
}

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
  auto beta_start = NumberField(config, "beta_start", 0.0001);
  if (!beta_start.ok()) return beta_start.status();
  auto beta_end = NumberField(config, "beta_end", 0.02);
  if (!beta_end.ok()) return beta_end.status();
  auto beta_schedule = StringField(config, "beta_schedule", "linear");
  if (!beta_schedule.ok()) return beta_schedule.status();
  auto prediction = StringField(config, "prediction_type", "epsilon");
  if (!prediction.ok()) return prediction.status();

  if (!(*beta_start > 0 && *beta_start < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("scheduler config: beta_start must be in (0, 1), got ", *beta_start));
  }
  if (!(*beta_end > 0 && *beta_end < 1) || *beta_end < *beta_start) {
    return absl::InvalidArgumentError(absl::StrCat(
        "scheduler config: beta_end must be in (0, 1) and >= beta_start, got ", *beta_end));
  }
  if (*prediction == "epsilon") {
    schedule.prediction_type_ = PredictionType::kEpsilon;
  } else if (*prediction == "v_prediction") {
    schedule.prediction_type_ = PredictionType::kVPrediction;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "scheduler config: prediction_type must be epsilon or v_prediction, got \"", *prediction,
        "\""));
  }

  try {
    const int64_t steps = schedule.num_train_timesteps_;
    torch::Tensor betas;
    if (*beta_schedule == "linear") {
      betas = torch::linspace(*beta_start, *beta_end, steps, torch::kFloat32);
    } else if (*beta_schedule == "scaled_linear") {
      betas = torch::linspace(std::sqrt(*beta_start), std::sqrt(*beta_end), steps,
                              torch::kFloat32)
                  .pow(2);
    } else if (*beta_schedule == "squaredcos_cap_v2") {
      betas = CosineBetas(steps).to(torch::kFloat32);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "scheduler config: beta_schedule must be linear, scaled_linear or squaredcos_cap_v2, "
          "got \"",
          *beta_schedule, "\""));
    }
    schedule.beta_schedule_ = *beta_schedule;
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
