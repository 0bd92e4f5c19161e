#ifndef EASEL_TRAINER_SAMPLING_PNG_WRITER_H_
#define EASEL_TRAINER_SAMPLING_PNG_WRITER_H_

#include <filesystem>

#include <torch/types.h>

#include "absl/status/status.h"

namespace easel::sampling {

// Writes a uint8 [H, W, C] image (C = 1, 3 or 4) as PNG. A wrong shape or dtype is
// InvalidArgument; a failed write is Internal naming the path.
absl::Status WritePng(const std::filesystem::path& path, const torch::Tensor& image);

}  // namespace easel::sampling

#endif  // EASEL_TRAINER_SAMPLING_PNG_WRITER_H_
