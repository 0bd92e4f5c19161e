#ifndef EASEL_TRAINER_MODELS_TORCH_COMPAT_H_
#define EASEL_TRAINER_MODELS_TORCH_COMPAT_H_

// The one place that knows which libtorch we build against: Debian's 1.13 (CPU) or the
// CUDA libtorch of a PyTorch 2.x install. Everything version-dependent goes through here.

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>
#include <torch/version.h>

#include "absl/status/status.h"

#if TORCH_VERSION_MAJOR >= 2
#define EASEL_TORCH_HAS_SDPA 1
#else
#define EASEL_TORCH_HAS_SDPA 0
#endif

namespace easel::compat {

// softmax(q k^T * scale + mask) v over [B, heads, N, d]. With libtorch 2.x this is
// at::scaled_dot_product_attention (flash / memory-efficient kernels on CUDA); with 1.13 a
// reference implementation that computes the scores in float32. `additive_mask` (optional)
// broadcasts to [B, heads, N, M].
torch::Tensor ScaledDotProductAttention(const torch::Tensor& q, const torch::Tensor& k,
                                        const torch::Tensor& v, double scale,
                                        const torch::Tensor& additive_mask = {});

// The same with a causal mask (position i attends to positions <= i), given to the kernel as
// is_causal rather than as a mask tensor, so CUDA runs the flash kernel as transformers does.
torch::Tensor CausalScaledDotProductAttention(const torch::Tensor& q, const torch::Tensor& k,
                                              const torch::Tensor& v, double scale);

// Turns autocast on for `device_type` with `dtype` while alive and restores the previous
// state on destruction (the API differs between 1.13 and 2.x).
class AutocastGuard {
 public:
  AutocastGuard(c10::DeviceType device_type, c10::ScalarType dtype);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  c10::DeviceType device_type_;
  bool previous_enabled_;
  c10::ScalarType previous_dtype_;
};

// Restricts scaled-dot-product attention to one kernel: "flash", "efficient", "math" or
// "cudnn"; "auto" leaves libtorch's choice. InvalidArgument for another name, or for a kernel
// this libtorch does not have (1.13 has only its own reference implementation: "auto").
absl::Status SetAttentionBackend(const std::string& name);

// Whether fp32 matmuls and convolutions may use TF32 on CUDA (off for parity checks).
void SetAllowTf32(bool allow);

// The most memory the caching allocator has handed out on a CUDA `device` since the process
// started (0 on the CPU, and in builds without CUDA).
int64_t PeakDeviceMemoryBytes(const torch::Device& device);

struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  int64_t memory_bytes = 0;
};

// The CUDA devices this process sees (none in builds without CUDA).
std::vector<CudaDeviceInfo> CudaDevices();

}  // namespace easel::compat

#endif  // EASEL_TRAINER_MODELS_TORCH_COMPAT_H_
