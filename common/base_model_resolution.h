#ifndef EASEL_COMMON_BASE_MODEL_RESOLUTION_H_
#define EASEL_COMMON_BASE_MODEL_RESOLUTION_H_

#include <filesystem>

namespace easel {

inline constexpr int kFallbackResolution = 512;

// The resolution a diffusers-layout base model was trained at: its VAE's `sample_size`
// (vae/config.json), else kFallbackResolution when that is missing or unreadable.
int BaseModelResolution(const std::filesystem::path& model_dir);

}  // namespace easel

#endif  // EASEL_COMMON_BASE_MODEL_RESOLUTION_H_
