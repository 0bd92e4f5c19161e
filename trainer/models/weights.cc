#include "trainer/models/weights.h"

#include <algorithm>
#include <cstring>
#include <set>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/safetensors.h"
#include "common/status_macros.h"

namespace easel::models {
namespace {

namespace st = ::easel::safetensors;

absl::StatusOr<torch::ScalarType> ToTorch(st::Dtype dtype) {
  switch (dtype) {
    case st::Dtype::kBool: return torch::kBool;
    case st::Dtype::kU8: return torch::kUInt8;
    case st::Dtype::kI8: return torch::kInt8;
    case st::Dtype::kI16: return torch::kInt16;
    case st::Dtype::kI32: return torch::kInt32;
    case st::Dtype::kI64: return torch::kInt64;
    case st::Dtype::kF16: return torch::kFloat16;
    case st::Dtype::kBF16: return torch::kBFloat16;
    case st::Dtype::kF32: return torch::kFloat32;
    case st::Dtype::kF64: return torch::kFloat64;
  }
  return absl::InvalidArgumentError("unknown dtype");
}

absl::StatusOr<st::Dtype> FromTorch(torch::ScalarType type) {
  switch (type) {
    case torch::kBool: return st::Dtype::kBool;
    case torch::kUInt8: return st::Dtype::kU8;
    case torch::kInt8: return st::Dtype::kI8;
    case torch::kInt16: return st::Dtype::kI16;
    case torch::kInt32: return st::Dtype::kI32;
    case torch::kInt64: return st::Dtype::kI64;
    case torch::kFloat16: return st::Dtype::kF16;
    case torch::kBFloat16: return st::Dtype::kBF16;
    case torch::kFloat32: return st::Dtype::kF32;
    case torch::kFloat64: return st::Dtype::kF64;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("dtype ", std::string(c10::toString(type)), " has no safetensors equivalent"));
  }
}

bool IsLoraName(const std::string& name) {
  return name.find("lora_A.") != std::string::npos || name.find("lora_B.") != std::string::npos;
}

std::string ShapeString(at::IntArrayRef shape) {
  return absl::StrCat("[", absl::StrJoin(shape.vec(), ","), "]");
}

}  // namespace

absl::StatusOr<std::map<std::string, torch::Tensor>> LoadSafetensors(
    const std::filesystem::path& path) {
  EASEL_ASSIGN_OR_RETURN(auto file, st::File::Open(path));
  std::map<std::string, torch::Tensor> tensors;
  try {
    for (const auto& view : file->tensors()) {
      EASEL_ASSIGN_OR_RETURN(torch::ScalarType type, ToTorch(view.dtype));
      torch::Tensor tensor = torch::empty(view.shape, torch::TensorOptions().dtype(type));
      if (view.size_bytes > 0) std::memcpy(tensor.data_ptr(), view.data, view.size_bytes);
      tensors.emplace(view.name, std::move(tensor));
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("loading ", path.string(), ": ", e.what()));
  }
  return tensors;
}

absl::Status SaveSafetensors(const std::filesystem::path& path,
                             const std::map<std::string, torch::Tensor>& tensors,
                             const std::map<std::string, std::string>& metadata) {
  std::vector<torch::Tensor> keep_alive;
  std::vector<st::TensorData> data;
  try {
    for (const auto& [name, tensor] : tensors) {
      if (!tensor.defined()) {
        return absl::InvalidArgumentError(
            absl::StrCat("writing ", path.string(), ": tensor \"", name, "\" is undefined"));
      }
      auto dtype = FromTorch(tensor.scalar_type());
      if (!dtype.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("writing ", path.string(), ": tensor \"",
                                                       name, "\": ", std::string(dtype.status().message())));
      }
      torch::Tensor cpu = tensor.detach().to(torch::kCPU).contiguous();
      keep_alive.push_back(cpu);
      data.push_back(st::TensorData{
          name, *dtype, cpu.sizes().vec(),
          std::string_view(static_cast<const char*>(cpu.data_ptr()), cpu.nbytes())});
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("writing ", path.string(), ": ", e.what()));
  }
  return st::Write(path, data, metadata);
}

absl::Status LoadStateDict(torch::nn::Module& module,
                           const std::map<std::string, torch::Tensor>& tensors,
                           std::string_view what, std::vector<std::string>* extra) {
  const std::string what_str(what);
  std::set<std::string> used;
  try {
    torch::NoGradGuard no_grad;
    auto copy_into = [&](const std::string& name, torch::Tensor& target) -> absl::Status {
      auto it = tensors.find(name);
      if (it == tensors.end()) {
        return absl::NotFoundError(
            absl::StrCat(what_str, ": missing tensor \"", name, "\""));
      }
      if (it->second.sizes() != target.sizes()) {
        return absl::InvalidArgumentError(absl::StrCat(
            what_str, ": tensor \"", name, "\" has shape ", ShapeString(it->second.sizes()),
            " but the model expects ", ShapeString(target.sizes())));
      }
      target.copy_(it->second);
      used.insert(name);
      return absl::OkStatus();
    };
    for (auto& item : module.named_parameters(/*recurse=*/true)) {
      if (IsLoraName(item.key())) continue;
      EASEL_RETURN_IF_ERROR(copy_into(item.key(), item.value()));
    }
    for (auto& item : module.named_buffers(/*recurse=*/true)) {
      if (IsLoraName(item.key())) continue;
      EASEL_RETURN_IF_ERROR(copy_into(item.key(), item.value()));
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(what_str, ": loading state dict: ", e.what()));
  }
  if (extra != nullptr) {
    extra->clear();
    for (const auto& [name, tensor] : tensors) {
      if (!used.count(name)) extra->push_back(name);
    }
  }
  return absl::OkStatus();
}

std::map<std::string, torch::Tensor> StateDict(const torch::nn::Module& module) {
  std::map<std::string, torch::Tensor> result;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    if (!IsLoraName(item.key())) result[item.key()] = item.value();
  }
  for (const auto& item : module.named_buffers(/*recurse=*/true)) {
    if (!IsLoraName(item.key())) result[item.key()] = item.value();
  }
  return result;
}

}  // namespace easel::models
