#include "trainer/models/single_file_source.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace easel::models::single_file_internal {

bool CheckpointTensors::HasPrefix(const std::string& prefix) const {
  auto it = tensors_.lower_bound(prefix);
  return it != tensors_.end() && absl::StartsWith(it->first, prefix);
}

int64_t CheckpointTensors::CountIndexed(const std::string& prefix) const {
  int64_t count = 0;
  while (HasPrefix(absl::StrCat(prefix, count, "."))) ++count;
  return count;
}

absl::StatusOr<torch::Tensor> CheckpointTensors::Peek(const std::string& key,
                                                      std::string_view purpose) const {
  auto it = tensors_.find(key);
  if (it == tensors_.end()) {
    return absl::InvalidArgumentError(absl::StrCat("single-file checkpoint: missing tensor \"", key,
                                                   "\" (needed ", std::string(purpose), ")"));
  }
  return it->second;
}

absl::StatusOr<torch::Tensor> CheckpointTensors::Take(const std::string& key,
                                                      std::string_view purpose) {
  EASEL_ASSIGN_OR_RETURN(torch::Tensor tensor, Peek(key, purpose));
  taken_.insert(key);
  return tensor;
}

std::vector<std::string> CheckpointTensors::UnusedKeys() const {
  std::vector<std::string> unused;
  for (const auto& [key, tensor] : tensors_) {
    if (!taken_.count(key)) unused.push_back(key);
  }
  return unused;
}

absl::StatusOr<torch::Tensor> ComponentTensors::Take(const std::string& from,
                                                     const std::string& to) {
  return source_.Take(from, absl::StrCat("for ", component_, " ", to));
}

absl::Status ComponentTensors::Copy(const std::string& from, const std::string& to) {
  EASEL_ASSIGN_OR_RETURN(torch::Tensor tensor, Take(from, to));
  Put(to, std::move(tensor));
  return absl::OkStatus();
}

absl::Status ComponentTensors::CopyWeightAndBias(const std::string& from, const std::string& to) {
  EASEL_RETURN_IF_ERROR(Copy(from + "weight", to + "weight"));
  return Copy(from + "bias", to + "bias");
}

absl::StatusOr<torch::Tensor> ComponentTensors::Peek(const std::string& key) const {
  return source_.Peek(key, absl::StrCat("to infer the ", component_, " config"));
}

}  // namespace easel::models::single_file_internal
