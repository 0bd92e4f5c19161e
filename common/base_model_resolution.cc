#include "common/base_model_resolution.h"

#include <fstream>

#include "nlohmann/json.hpp"

namespace easel {

int BaseModelResolution(const std::filesystem::path& model_dir) {
  std::ifstream in(model_dir / "vae" / "config.json");
  if (!in) return kFallbackResolution;
  auto config = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (config.is_object() && config.contains("sample_size") &&
      config["sample_size"].is_number_integer()) {
    const int size = config["sample_size"].get<int>();
    if (size > 0) return size;
  }
  return kFallbackResolution;
}

}  // namespace easel
