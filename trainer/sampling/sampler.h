#ifndef EASEL_TRAINER_SAMPLING_SAMPLER_H_
#define EASEL_TRAINER_SAMPLING_SAMPLER_H_

#include <cstdint>
#include <memory>
#include <string_view>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace easel::sampling {

struct SamplerStep {
  torch::Tensor prev_sample;           // the sample at the next (less noisy) timestep
  torch::Tensor pred_original_sample;  // the model's estimate of x0
};

// A diffusers scheduler after set_timesteps(num_inference_steps): the denoising loop is
//   x = noise * init_noise_sigma()
//   for i in [0, num_steps()): x = Step(model(ScaleModelInput(x, i), timesteps()[i]), i, x)
// Steps are addressed by index, so no state changes between calls.
class Sampler {
 public:
  virtual ~Sampler() = default;

  // [num_steps] on CPU, noisiest first: int64 (DDIM) or float32 (Euler), as the UNet gets them.
  virtual const torch::Tensor& timesteps() const = 0;
  int64_t num_steps() const { return timesteps().size(0); }
  virtual double init_noise_sigma() const = 0;
  virtual torch::Tensor ScaleModelInput(const torch::Tensor& sample, int64_t step) const = 0;
  virtual SamplerStep Step(const torch::Tensor& model_output, int64_t step,
                           const torch::Tensor& sample) const = 0;
};

enum class SamplerKind { kDdim, kEuler };

// "ddim" | "euler"; anything else is InvalidArgument naming the sampler.
absl::StatusOr<SamplerKind> ParseSamplerKind(std::string_view name);

// Builds the sampler from a diffusers scheduler_config.json (whatever its _class_name, as
// diffusers' from_config does) and sets `num_inference_steps` timesteps.
absl::StatusOr<std::unique_ptr<Sampler>> MakeSampler(SamplerKind kind,
                                                     const nlohmann::json& scheduler_config,
                                                     int64_t num_inference_steps);

}  // namespace easel::sampling

#endif  // EASEL_TRAINER_SAMPLING_SAMPLER_H_
