#ifndef EASEL_TRAINER_SAMPLING_NOISE_SCHEDULE_H_
#define EASEL_TRAINER_SAMPLING_NOISE_SCHEDULE_H_

#include <cstdint>
#include <string>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace easel::sampling {

enum class PredictionType { kEpsilon, kVPrediction };

// The DDPM forward process, built from a diffusers scheduler_config.json: num_train_timesteps,
// beta_start, beta_end, beta_schedule (linear | scaled_linear | squaredcos_cap_v2),
// trained_betas, rescale_betas_zero_snr, prediction_type (epsilon | v_prediction). Missing
// fields take diffusers' DDPMScheduler defaults. The samplers build on it.
class NoiseSchedule {
 public:
  static absl::StatusOr<NoiseSchedule> FromConfig(const nlohmann::json& config);

  int64_t num_train_timesteps() const { return num_train_timesteps_; }
  PredictionType prediction_type() const { return prediction_type_; }
  const std::string& beta_schedule() const { return beta_schedule_; }
  bool zero_terminal_snr() const { return zero_terminal_snr_; }
  // [num_train_timesteps], float32 on CPU, strictly decreasing in (0, 1); with
  // rescale_betas_zero_snr the last is exactly 0 (diffusers' rescale_zero_terminal_snr).
  const torch::Tensor& alphas_cumprod() const { return alphas_cumprod_; }

  // sqrt(a_t) * x0 + sqrt(1 - a_t) * noise, with a_t = alphas_cumprod[t] per batch row.
  // `timesteps` is an int64 tensor [B]; x0 and noise are [B, ...] on any device.
  torch::Tensor AddNoise(const torch::Tensor& x0, const torch::Tensor& noise,
                         const torch::Tensor& timesteps) const;
  // What the model should predict: the noise (epsilon) or the velocity
  // sqrt(a_t) * noise - sqrt(1 - a_t) * x0 (v_prediction).
  torch::Tensor Target(const torch::Tensor& x0, const torch::Tensor& noise,
                       const torch::Tensor& timesteps) const;

 private:
  NoiseSchedule() = default;
  // sqrt(a_t) and sqrt(1 - a_t) per row, shaped to broadcast against `like`.
  std::pair<torch::Tensor, torch::Tensor> Coefficients(const torch::Tensor& timesteps,
                                                       const torch::Tensor& like) const;

  int64_t num_train_timesteps_ = 1000;
  PredictionType prediction_type_ = PredictionType::kEpsilon;
  std::string beta_schedule_;
  bool zero_terminal_snr_ = false;
  torch::Tensor alphas_cumprod_;
};

}  // namespace easel::sampling

#endif  // EASEL_TRAINER_SAMPLING_NOISE_SCHEDULE_H_
