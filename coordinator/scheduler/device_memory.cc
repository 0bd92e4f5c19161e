#include "coordinator/scheduler/device_memory.h"

#include <algorithm>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/safetensors.h"
#include "common/status_macros.h"

namespace easel::coordinator {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kSd15UnetParameters = 860e6;

double NumberInput(const google::protobuf::Struct& input, const char* key, double fallback) {
  auto it = input.fields().find(key);
  return it != input.fields().end() && it->second.has_number_value() ? it->second.number_value()
                                                                       : fallback;
}

// Parameters in the safetensors files directly inside `dir`.
absl::StatusOr<int64_t> CountParameters(const std::filesystem::path& dir) {
  int64_t parameters = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (entry.path().extension() != ".safetensors") continue;
    EASEL_ASSIGN_OR_RETURN(std::unique_ptr<safetensors::File> file,
                           safetensors::File::Open(entry.path()));
    for (const safetensors::TensorView& tensor : file->tensors()) {
      parameters += static_cast<int64_t>(tensor.size_bytes / safetensors::DtypeSize(tensor.dtype));
    }
  }
  if (error) {
    return absl::NotFoundError(absl::StrCat("cannot list ", dir.string(), ": ", error.message()));
  }
  return parameters;
}

}  // namespace

absl::StatusOr<BaseModelSize> MeasureBaseModel(const std::filesystem::path& dir) {
  BaseModelSize size;
  EASEL_ASSIGN_OR_RETURN(size.unet_parameters, CountParameters(dir / "unet"));
  for (const char* component : {"text_encoder", "text_encoder_2", "vae"}) {
    std::error_code error;
    if (!std::filesystem::is_directory(dir / component, error)) continue;
    EASEL_ASSIGN_OR_RETURN(int64_t parameters, CountParameters(dir / component));
    size.other_parameters += parameters;
  }
  return size;
}

int64_t TrainingMemoryNeed(const BaseModelSize& model, const google::protobuf::Struct& input,
                           const std::string& device_kind) {
  auto precision = input.fields().find("mixed_precision");
  const bool float32 = device_kind != "cuda" || (precision != input.fields().end() &&
                                                 precision->second.string_value() == "no");
  const double weights =
      static_cast<double>(model.unet_parameters + model.other_parameters) * (float32 ? 4 : 2);
  const double batch = NumberInput(input, "train_batch_size", 1);
  const double side = NumberInput(input, "resolution", 512) / 512.0;
  const double unet_scale =
      std::max(1.0, static_cast<double>(model.unet_parameters) / kSd15UnetParameters);
  const double activations = batch * side * side * kGiB * unet_scale;
  return static_cast<int64_t>(2 * weights + activations);
}

}  // namespace easel::coordinator
