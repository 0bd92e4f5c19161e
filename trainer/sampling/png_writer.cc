#include "trainer/sampling/png_writer.h"

#include <exception>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"

// Static: the definitions stay in this file, so another STB_IMAGE_WRITE_IMPLEMENTATION in the
// same binary (the test dataset fixture has one) does not clash.
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

namespace easel::sampling {

absl::Status WritePng(const std::filesystem::path& path, const torch::Tensor& image) {
  if (!image.defined() || image.dim() != 3 || image.scalar_type() != torch::kUInt8 ||
      (image.size(2) != 1 && image.size(2) != 3 && image.size(2) != 4)) {
    return absl::InvalidArgumentError(
        absl::StrCat("WritePng ", path.string(), ": image must be uint8 [H, W, 1|3|4]"));
  }
  try {
    torch::Tensor pixels = image.to(torch::kCPU).contiguous();
    const int height = static_cast<int>(pixels.size(0));
    const int width = static_cast<int>(pixels.size(1));
    const int channels = static_cast<int>(pixels.size(2));
    if (stbi_write_png(path.c_str(), width, height, channels, pixels.data_ptr<uint8_t>(),
                       width * channels) == 0) {
      return absl::InternalError(absl::StrCat("cannot write PNG ", path.string()));
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("writing PNG ", path.string(), ": ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace easel::sampling
