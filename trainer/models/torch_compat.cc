#include "trainer/models/torch_compat.h"

#include <limits>
#include <optional>

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#if EASEL_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace easel::compat {

torch::Tensor ScaledDotProductAttention(const torch::Tensor& q, const torch::Tensor& k,
                                        const torch::Tensor& v, double scale,
                                        const torch::Tensor& additive_mask) {
#if EASEL_TORCH_HAS_SDPA
  std::optional<torch::Tensor> mask;
  if (additive_mask.defined()) mask = additive_mask.to(q.scalar_type());
  return at::scaled_dot_product_attention(q, k, v, mask, /*dropout_p=*/0.0, /*is_causal=*/false,
                                          scale);
#else
  torch::Tensor scores =
      torch::matmul(q.to(torch::kFloat32), k.to(torch::kFloat32).transpose(-1, -2)) * scale;
  if (additive_mask.defined()) scores = scores + additive_mask.to(torch::kFloat32);
  torch::Tensor probs = torch::softmax(scores, -1).to(v.scalar_type());
  return torch::matmul(probs, v);
#endif
}

torch::Tensor CausalScaledDotProductAttention(const torch::Tensor& q, const torch::Tensor& k,
                                              const torch::Tensor& v, double scale) {
#if EASEL_TORCH_HAS_SDPA
  return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/std::nullopt, /*dropout_p=*/0.0,
                                          /*is_causal=*/true, scale);
#else
  const int64_t length = q.size(-2);
  const torch::Tensor mask = torch::full({length, k.size(-2)},
                                         -std::numeric_limits<float>::infinity(),
                                         q.options().dtype(torch::kFloat32))
                                 .triu(1);
  return ScaledDotProductAttention(q, k, v, scale, mask);
#endif
}

namespace {

bool AutocastEnabled(c10::DeviceType device_type) {
#if TORCH_VERSION_MAJOR >= 2 && TORCH_VERSION_MINOR >= 4 || TORCH_VERSION_MAJOR >= 3
  return at::autocast::is_autocast_enabled(device_type);
#else
  return device_type == c10::DeviceType::CPU ? at::autocast::is_cpu_enabled()
                                             : at::autocast::is_enabled();
#endif
}

c10::ScalarType AutocastDtype(c10::DeviceType device_type) {
#if TORCH_VERSION_MAJOR >= 2 && TORCH_VERSION_MINOR >= 4 || TORCH_VERSION_MAJOR >= 3
  return at::autocast::get_autocast_dtype(device_type);
#else
  return device_type == c10::DeviceType::CPU ? at::autocast::get_autocast_cpu_dtype()
                                             : at::autocast::get_autocast_gpu_dtype();
#endif
}

void SetAutocast(c10::DeviceType device_type, bool enabled, c10::ScalarType dtype) {
#if TORCH_VERSION_MAJOR >= 2 && TORCH_VERSION_MINOR >= 4 || TORCH_VERSION_MAJOR >= 3
  at::autocast::set_autocast_enabled(device_type, enabled);
  at::autocast::set_autocast_dtype(device_type, dtype);
#else
  if (device_type == c10::DeviceType::CPU) {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  } else {
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
  }
#endif
}

}  // namespace

AutocastGuard::AutocastGuard(c10::DeviceType device_type, c10::ScalarType dtype)
    : device_type_(device_type),
      previous_enabled_(AutocastEnabled(device_type)),
      previous_dtype_(AutocastDtype(device_type)) {
  SetAutocast(device_type, true, dtype);
}

AutocastGuard::~AutocastGuard() {
  SetAutocast(device_type_, previous_enabled_, previous_dtype_);
  at::autocast::clear_cache();
}

absl::Status SetAttentionBackend(const std::string& name) {
  if (name == "auto") return absl::OkStatus();
#if EASEL_TORCH_HAS_SDPA
  if (name == "flash" || name == "efficient" || name == "math" || name == "cudnn") {
    at::globalContext().setSDPUseFlash(name == "flash");
    at::globalContext().setSDPUseMemEfficient(name == "efficient");
    at::globalContext().setSDPUseMath(name == "math");
    at::globalContext().setSDPUseCuDNN(name == "cudnn");
    return absl::OkStatus();
  }
#endif
  return absl::InvalidArgumentError(absl::StrCat(
      "attention backend must be auto", EASEL_TORCH_HAS_SDPA ? ", flash, efficient, math or cudnn" : "",
      " with this libtorch, got \"", name, "\""));
}

void SetAllowTf32(bool allow) {
  at::globalContext().setAllowTF32CuBLAS(allow);
  at::globalContext().setAllowTF32CuDNN(allow);
}

int64_t PeakDeviceMemoryBytes(const torch::Device& device) {
#if EASEL_WITH_CUDA
  if (device.is_cuda()) {
    const auto index = device.has_index() ? device.index() : c10::DeviceIndex{0};
    constexpr size_t kAggregate = 0;  // StatType::AGGREGATE in every libtorch version
    return c10::cuda::CUDACachingAllocator::getDeviceStats(index).allocated_bytes[kAggregate].peak;
  }
#endif
  (void)device;
  return 0;
}

std::vector<CudaDeviceInfo> CudaDevices() {
  std::vector<CudaDeviceInfo> devices;
#if EASEL_WITH_CUDA
  if (!torch::cuda::is_available()) return devices;
  const int count = static_cast<int>(torch::cuda::device_count());
  for (int i = 0; i < count; ++i) {
    const cudaDeviceProp* properties = at::cuda::getDeviceProperties(i);
    devices.push_back({i, properties->name, static_cast<int64_t>(properties->totalGlobalMem)});
  }
#endif
  return devices;
}

}  // namespace easel::compat
