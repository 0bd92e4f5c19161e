#ifndef EASEL_TRAINER_SAMPLING_DDIM_SAMPLER_H_
#define EASEL_TRAINER_SAMPLING_DDIM_SAMPLER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "trainer/sampling/noise_schedule.h"
#include "trainer/sampling/sampler.h"

namespace easel::sampling {

// diffusers' DDIMScheduler with eta = 0. Besides NoiseSchedule's fields it reads
// timestep_spacing (default leading), steps_offset (0), set_alpha_to_one (true), clip_sample
// (true, as diffusers' default; Stable Diffusion configs turn it off), clip_sample_range (1.0)
// and thresholding (only false).
class DdimSampler : public Sampler {
 public:
  static absl::StatusOr<std::unique_ptr<DdimSampler>> Create(const nlohmann::json& config,
                                                             int64_t num_inference_steps);

  const torch::Tensor& timesteps() const override { return timesteps_; }
  double init_noise_sigma() const override { return 1.0; }
  torch::Tensor ScaleModelInput(const torch::Tensor& sample, int64_t step) const override {
    return sample;
  }
  // x0 and eps from the model output (epsilon or v), then
  // prev = sqrt(a_prev) * x0 + sqrt(1 - a_prev) * eps, where a_prev is alphas_cumprod at
  // t - num_train_timesteps / num_inference_steps (diffusers' rule whatever the spacing), or
  // final_alpha_cumprod (1, or alphas_cumprod[0] without set_alpha_to_one) below 0.
  SamplerStep Step(const torch::Tensor& model_output, int64_t step,
                   const torch::Tensor& sample) const override;

  // alphas_cumprod at timesteps()[step] and at its previous timestep, as float32 values.
  std::pair<float, float> AlphasCumprodAt(int64_t step) const;

 private:
  DdimSampler() = default;

  std::vector<float> alphas_cumprod_;
  float final_alpha_cumprod_ = 1;
  int64_t step_ratio_ = 0;
  PredictionType prediction_type_ = PredictionType::kEpsilon;
  bool clip_sample_ = true;
  double clip_sample_range_ = 1.0;
  std::vector<int64_t> timestep_values_;
  torch::Tensor timesteps_;
};

}  // namespace easel::sampling

#endif  // EASEL_TRAINER_SAMPLING_DDIM_SAMPLER_H_
