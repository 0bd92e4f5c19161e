#include "trainer/sampling/sampler.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "trainer/sampling/ddim_sampler.h"
#include "trainer/sampling/euler_sampler.h"

namespace easel::sampling {

absl::StatusOr<SamplerKind> ParseSamplerKind(std::string_view name) {
  if (name == "ddim") return SamplerKind::kDdim;
  if (name == "euler") return SamplerKind::kEuler;
  return absl::InvalidArgumentError(
      absl::StrCat("sampler must be ddim or euler, got \"", std::string(name), "\""));
}

absl::StatusOr<std::unique_ptr<Sampler>> MakeSampler(SamplerKind kind,
                                                     const nlohmann::json& scheduler_config,
                                                     int64_t num_inference_steps) {
  if (kind == SamplerKind::kDdim) {
    EASEL_ASSIGN_OR_RETURN(std::unique_ptr<DdimSampler> ddim,
                           DdimSampler::Create(scheduler_config, num_inference_steps));
    return std::unique_ptr<Sampler>(std::move(ddim));
  }
  EASEL_ASSIGN_OR_RETURN(std::unique_ptr<EulerSampler> euler,
                         EulerSampler::Create(scheduler_config, num_inference_steps));
  return std::unique_ptr<Sampler>(std::move(euler));
}

}  // namespace easel::sampling
