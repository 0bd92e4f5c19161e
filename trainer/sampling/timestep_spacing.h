#ifndef EASEL_TRAINER_SAMPLING_TIMESTEP_SPACING_H_
#define EASEL_TRAINER_SAMPLING_TIMESTEP_SPACING_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace easel::sampling {

// diffusers' timestep_spacing (Lin et al. 2023, table 2).
enum class TimestepSpacing { kLeading, kTrailing, kLinspace };

// Reads timestep_spacing ("leading" | "trailing" | "linspace"); missing gives `fallback`.
absl::StatusOr<TimestepSpacing> ParseTimestepSpacing(const nlohmann::json& config,
                                                     TimestepSpacing fallback);

// The inference timesteps, first (noisiest) to last, as diffusers' set_timesteps computes them
// with numpy in float64:
//   leading   (k * (T / n)) + steps_offset for k = n-1 .. 0   (T / n: integer division)
//   trailing  round(arange(T, 0, -T / n)) - 1
//   linspace  linspace(0, T - 1, n) reversed, NOT rounded (DDIM rounds it, Euler does not)
// T = num_train_timesteps, n = num_inference_steps (1 <= n <= T). Rounding is half to even.
std::vector<double> SpacedTimesteps(TimestepSpacing spacing, int64_t num_train_timesteps,
                                    int64_t num_inference_steps, int64_t steps_offset);

// numpy.arange(start, stop, step) for doubles, element for element (length
// ceil((stop - start) / step), element i = start + i * ((start + step) - start)).
std::vector<double> NumpyArange(double start, double stop, double step);

// numpy.linspace(start, stop, num) for doubles (element i = start + i * step, the last = stop).
std::vector<double> NumpyLinspace(double start, double stop, int64_t num);

}  // namespace easel::sampling

#endif  // EASEL_TRAINER_SAMPLING_TIMESTEP_SPACING_H_
