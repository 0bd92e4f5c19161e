#ifndef EASEL_TRAINER_SAMPLING_SAMPLE_IMAGES_H_
#define EASEL_TRAINER_SAMPLING_SAMPLE_IMAGES_H_

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "trainer/models/diffusers_model.h"
#include "trainer/sampling/sampler.h"

namespace easel::sampling {

struct SampleOptions {
  std::vector<std::string> prompts;
  // Empty: diffusers' negative_prompt=None, i.e. "" for SD 1.x/2.x and, for SDXL with
  // force_zeros_for_empty_prompt (its default), zero embeddings.
  std::string negative_prompt;
  int64_t num_inference_steps = 30;
  double guidance_scale = 7.5;  // <= 1: no classifier-free guidance (one UNet pass per step)
  uint64_t seed = 0;
  int64_t resolution = 0;  // square images; 0: the UNet's sample_size times the VAE's factor
  SamplerKind sampler = SamplerKind::kEuler;
  torch::Device device = torch::kCPU;
  // The latents and the sampler's arithmetic; each module runs in its own parameter dtype.
  torch::Dtype dtype = torch::kFloat32;
};

// Text-to-image as diffusers' StableDiffusionPipeline / StableDiffusionXLPipeline do it:
// prompt embeddings (SDXL: both encoders' penultimate hidden states, text_encoder_2's
// text_embeds and time ids [h, w, 0, 0, h, w]), noise drawn for all prompts at once from a CPU
// generator seeded with `seed` (as randn_tensor with a CPU torch.Generator), the scheduler loop
// with classifier-free guidance (uncond and cond in one batch), then VAE decoding of
// latents / scaling_factor. Each module is moved to options.device for its part, in eval mode,
// and put back where it was (device and train/eval) afterwards. No gradients.
// Returns one [resolution, resolution, 3] uint8 CPU tensor per prompt.
absl::StatusOr<std::vector<torch::Tensor>> GenerateSamples(const models::DiffusersModel& model,
                                                           const SampleOptions& options);

}  // namespace easel::sampling

#endif  // EASEL_TRAINER_SAMPLING_SAMPLE_IMAGES_H_
