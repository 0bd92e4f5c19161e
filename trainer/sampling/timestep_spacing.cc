#include "trainer/sampling/timestep_spacing.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "trainer/sampling/scheduler_config.h"

namespace easel::sampling {

absl::StatusOr<TimestepSpacing> ParseTimestepSpacing(const nlohmann::json& config,
                                                     TimestepSpacing fallback) {
  const char* fallback_name = fallback == TimestepSpacing::kLeading    ? "leading"
                              : fallback == TimestepSpacing::kTrailing ? "trailing"
                                                                       : "linspace";
  EASEL_ASSIGN_OR_RETURN(std::string name, ConfigString(config, "timestep_spacing", fallback_name));
  if (name == "leading") return TimestepSpacing::kLeading;
  if (name == "trailing") return TimestepSpacing::kTrailing;
  if (name == "linspace") return TimestepSpacing::kLinspace;
  return absl::InvalidArgumentError(absl::StrCat(
      "scheduler config: timestep_spacing must be leading, trailing or linspace, got \"", name,
      "\""));
}

std::vector<double> NumpyArange(double start, double stop, double step) {
  const double length = std::ceil((stop - start) / step);
  if (!(length > 0)) return {};
  std::vector<double> values(static_cast<size_t>(length));
  values[0] = start;
  if (values.size() == 1) return values;
  values[1] = start + step;
  const double delta = values[1] - start;
  for (size_t i = 2; i < values.size(); ++i) values[i] = start + static_cast<double>(i) * delta;
  return values;
}

std::vector<double> NumpyLinspace(double start, double stop, int64_t num) {
  if (num <= 0) return {};
  if (num == 1) return {start};
  const double step = (stop - start) / static_cast<double>(num - 1);
  std::vector<double> values(num);
  for (int64_t i = 0; i < num; ++i) values[i] = static_cast<double>(i) * step + start;
  values.back() = stop;
  return values;
}

std::vector<double> SpacedTimesteps(TimestepSpacing spacing, int64_t num_train_timesteps,
                                    int64_t num_inference_steps, int64_t steps_offset) {
  const int64_t n = num_inference_steps;
  std::vector<double> timesteps;
  switch (spacing) {
    case TimestepSpacing::kLeading: {
      const int64_t ratio = num_train_timesteps / n;
      for (int64_t k = n - 1; k >= 0; --k) {
        timesteps.push_back(static_cast<double>(k * ratio + steps_offset));
      }
      break;
    }
    case TimestepSpacing::kTrailing: {
      const double ratio = static_cast<double>(num_train_timesteps) / static_cast<double>(n);
      for (double t : NumpyArange(static_cast<double>(num_train_timesteps), 0, -ratio)) {
        timesteps.push_back(std::nearbyint(t) - 1);
      }
      break;
    }
    case TimestepSpacing::kLinspace:
      timesteps = NumpyLinspace(0, static_cast<double>(num_train_timesteps - 1), n);
      std::reverse(timesteps.begin(), timesteps.end());
      break;
  }
  return timesteps;
}

}  // namespace easel::sampling
