#ifndef EASEL_TRAINER_SAMPLING_EULER_SAMPLER_H_
#define EASEL_TRAINER_SAMPLING_EULER_SAMPLER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "trainer/sampling/noise_schedule.h"
#include "trainer/sampling/sampler.h"

namespace easel::sampling {

// diffusers' EulerDiscreteScheduler (s_churn = 0). Besides NoiseSchedule's fields it reads
// timestep_spacing (default linspace), steps_offset (0), final_sigmas_type (zero | sigma_min),
// and accepts only the defaults of interpolation_type (linear), use_karras_sigmas,
// use_exponential_sigmas, use_beta_sigmas (false) and timestep_type (discrete; continuous is
// the same for epsilon). With rescale_betas_zero_snr the last alphas_cumprod is 2^-24 here, as
// in diffusers, so that the first sigma is finite.
class EulerSampler : public Sampler {
 public:
  static absl::StatusOr<std::unique_ptr<EulerSampler>> Create(const nlohmann::json& config,
                                                              int64_t num_inference_steps);

  const torch::Tensor& timesteps() const override { return timesteps_; }
  // The largest sigma, or sqrt(max^2 + 1) for leading spacing.
  double init_noise_sigma() const override { return init_noise_sigma_; }
  // sample / sqrt(sigma^2 + 1).
  torch::Tensor ScaleModelInput(const torch::Tensor& sample, int64_t step) const override;
  // x0 = sample - sigma * eps, or (v) -sigma / sqrt(sigma^2 + 1) * v + sample / (sigma^2 + 1);
  // prev = sample + (sample - x0) / sigma * (sigma_next - sigma). Computed in float32; the
  // result takes model_output's dtype.
  SamplerStep Step(const torch::Tensor& model_output, int64_t step,
                   const torch::Tensor& sample) const override;

  // [num_steps + 1] float32 values, the last the final sigma.
  const std::vector<float>& sigmas() const { return sigmas_; }

 private:
  EulerSampler() = default;

  std::vector<float> sigmas_;
  double init_noise_sigma_ = 1.0;
  PredictionType prediction_type_ = PredictionType::kEpsilon;
  torch::Tensor timesteps_;
};

}  // namespace easel::sampling

#endif  // EASEL_TRAINER_SAMPLING_EULER_SAMPLER_H_
