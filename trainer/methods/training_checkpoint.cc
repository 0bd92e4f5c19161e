#include "trainer/methods/training_checkpoint.h"

#include <fcntl.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/remove_tree.h"
#include "common/safetensors.h"
#include "common/status_macros.h"

namespace easel::methods {
namespace {

namespace fs = std::filesystem;

constexpr char kStateFile[] = "training_state.json";
constexpr char kTensorsFile[] = "trainable.safetensors";
// The optimizer (libtorch's own serialization of it) and the noise generator, as U8 tensors.
constexpr char kOptimizerRngFile[] = "optimizer_rng.safetensors";
constexpr char kOptimizerTensor[] = "optimizer";
constexpr char kRngTensor[] = "noise_generator";
constexpr char kCompleteFile[] = "COMPLETE";
constexpr char kPartialSuffix[] = ".partial";

absl::Status SyncPath(const fs::path& path, bool directory) {
  const int fd = open(path.c_str(), (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot open ", path.string()));
  const int synced = fsync(fd);
  close(fd);
  if (synced != 0) return absl::InternalError(absl::StrCat("cannot sync ", path.string()));
  return absl::OkStatus();
}

absl::Status WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  return SyncPath(path, /*directory=*/false);
}

// Complete checkpoints in `dir`, oldest first (names sort by step).
std::vector<fs::path> CompleteCheckpoints(const fs::path& dir) {
  std::vector<fs::path> found;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (absl::StartsWith(name, "step-") && fs::is_regular_file(entry.path() / kCompleteFile)) {
      found.push_back(entry.path());
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

// Deletes all but the newest kCheckpointsKept complete checkpoints, and leftover partial ones.
void Prune(const fs::path& dir) {
  std::vector<fs::path> doomed = CompleteCheckpoints(dir);
  doomed.resize(doomed.size() > kCheckpointsKept ? doomed.size() - kCheckpointsKept : 0);
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    if (absl::EndsWith(entry.path().filename().string(), kPartialSuffix)) {
      doomed.push_back(entry.path());
    }
  }
  for (const fs::path& path : doomed) RemoveTree(path).IgnoreError();
}

absl::Status SaveTensors(const fs::path& path, const std::vector<lora::NamedParameter>& trainable) {
  std::vector<torch::Tensor> host;  // keeps the bytes alive while they are written
  std::vector<safetensors::TensorData> tensors;
  for (const lora::NamedParameter& p : trainable) {
    host.push_back(p.parameter.detach().to(torch::kCPU, torch::kFloat32).contiguous());
    const torch::Tensor& t = host.back();
    tensors.push_back({p.name, safetensors::Dtype::kF32, t.sizes().vec(),
                       std::string_view(static_cast<const char*>(t.data_ptr()), t.nbytes())});
  }
  EASEL_RETURN_IF_ERROR(safetensors::Write(path, tensors, {}));
  return SyncPath(path, /*directory=*/false);
}

absl::Status SaveOptimizerAndRng(const fs::path& path, torch::optim::Optimizer& optimizer,
                                 const at::Generator& noise) {
  torch::serialize::OutputArchive archive;
  optimizer.save(archive);
  std::ostringstream optimizer_bytes;
  archive.save_to(optimizer_bytes);
  const std::string optimizer_state = optimizer_bytes.str();
  const torch::Tensor rng = noise.get_state().contiguous();
  EASEL_RETURN_IF_ERROR(safetensors::Write(
      path,
      {{kOptimizerTensor,
        safetensors::Dtype::kU8,
        {static_cast<int64_t>(optimizer_state.size())},
        optimizer_state},
       {kRngTensor, safetensors::Dtype::kU8, rng.sizes().vec(),
        std::string_view(static_cast<const char*>(rng.data_ptr()), rng.nbytes())}},
      {}));
  return SyncPath(path, /*directory=*/false);
}

absl::Status LoadTensors(const fs::path& path, const std::vector<lora::NamedParameter>& trainable) {
  EASEL_ASSIGN_OR_RETURN(std::unique_ptr<safetensors::File> file, safetensors::File::Open(path));
  if (file->tensors().size() != trainable.size()) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), " holds ", file->tensors().size(),
                                                   " tensors, this run "
                                                   "trains ",
                                                   trainable.size()));
  }
  torch::NoGradGuard no_grad;
  for (const lora::NamedParameter& p : trainable) {
    EASEL_ASSIGN_OR_RETURN(safetensors::TensorView view, file->Get(p.name));
    if (view.dtype != safetensors::Dtype::kF32 || view.shape != p.parameter.sizes().vec()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path.string(), ": tensor ", p.name, " has another shape or type"));
    }
    torch::Tensor saved =
        torch::from_blob(const_cast<uint8_t*>(view.data), view.shape, torch::kFloat32);
    p.parameter.copy_(saved);
  }
  return absl::OkStatus();
}

absl::Status LoadOptimizerAndRng(const fs::path& path, torch::Device device,
                                 torch::optim::Optimizer& optimizer, at::Generator& noise) {
  EASEL_ASSIGN_OR_RETURN(std::unique_ptr<safetensors::File> file, safetensors::File::Open(path));
  EASEL_ASSIGN_OR_RETURN(safetensors::TensorView optimizer_view, file->Get(kOptimizerTensor));
  std::istringstream optimizer_bytes(
      std::string(reinterpret_cast<const char*>(optimizer_view.data), optimizer_view.size_bytes));
  torch::serialize::InputArchive archive;
  archive.load_from(optimizer_bytes, device);
  optimizer.load(archive);
  EASEL_ASSIGN_OR_RETURN(safetensors::TensorView rng, file->Get(kRngTensor));
  noise.set_state(
      torch::from_blob(const_cast<uint8_t*>(rng.data), rng.shape, torch::kUInt8).clone());
  return absl::OkStatus();
}

absl::Status CompareFingerprints(const fs::path& path, const nlohmann::json& saved,
                                 const nlohmann::json& expected) {
  for (const auto& [field, value] : expected.items()) {
    if (!saved.contains(field) || saved[field] != value) {
      return absl::InvalidArgumentError(absl::StrCat(
          "checkpoint ", path.string(), " was written by a different training: ", field, " is ",
          saved.contains(field) ? saved[field].dump() : "missing", " there and ", value.dump(),
          " here"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string CheckpointName(int64_t step) { return absl::StrFormat("step-%08d", step); }

absl::StatusOr<fs::path> SaveCheckpoint(const fs::path& dir, const TrainingState& state,
                                        const std::vector<lora::NamedParameter>& trainable,
                                        torch::optim::Optimizer& optimizer,
                                        const at::Generator& noise) {
  const std::string name = CheckpointName(state.step);
  const fs::path partial = dir / absl::StrCat(".", name, kPartialSuffix);
  const fs::path final_path = dir / name;
  RemoveTree(partial).IgnoreError();
  std::error_code error;
  fs::create_directories(partial, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", partial.string(), ": ", error.message()));
  }
  try {
    EASEL_RETURN_IF_ERROR(SaveTensors(partial / kTensorsFile, trainable));
    EASEL_RETURN_IF_ERROR(SaveOptimizerAndRng(partial / kOptimizerRngFile, optimizer, noise));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("writing checkpoint ", name, ": ", e.what()));
  }
  const nlohmann::json json = {
      {"format", kCheckpointFormat}, {"step", state.step},
      {"total", state.total},        {"data_order_position", state.data_order_position},
      {"loss", state.loss},          {"fingerprint", state.fingerprint}};
  EASEL_RETURN_IF_ERROR(WriteText(partial / kStateFile, json.dump(2) + "\n"));
  EASEL_RETURN_IF_ERROR(WriteText(partial / kCompleteFile, absl::StrCat(state.step, "\n")));
  EASEL_RETURN_IF_ERROR(SyncPath(partial, /*directory=*/true));
  RemoveTree(final_path).IgnoreError();
  fs::rename(partial, final_path, error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot rename ", partial.string(), " to ",
                                            final_path.string(), ": ", error.message()));
  }
  EASEL_RETURN_IF_ERROR(SyncPath(dir, /*directory=*/true));
  Prune(dir);
  return final_path;
}

absl::StatusOr<TrainingState> LoadCheckpoint(const fs::path& path,
                                             const nlohmann::json& fingerprint,
                                             const std::vector<lora::NamedParameter>& trainable,
                                             torch::optim::Optimizer& optimizer,
                                             at::Generator& noise) {
  if (!fs::is_regular_file(path / kCompleteFile)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint ", path.string(), " is incomplete (no ", kCompleteFile,
        " marker): it was being written when its run stopped; resume from an earlier one"));
  }
  std::ifstream in(path / kStateFile);
  nlohmann::json json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || !json.contains("step") || !json.contains("fingerprint")) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint ", path.string(), ": ", kStateFile, " is missing or damaged"));
  }
  if (json.value("format", 0) != kCheckpointFormat) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint ", path.string(), " has format ",
                                                   json.value("format", 0),
                                                   "; this trainer "
                                                   "reads format ",
                                                   kCheckpointFormat));
  }
  EASEL_RETURN_IF_ERROR(CompareFingerprints(path, json["fingerprint"], fingerprint));
  TrainingState state;
  state.step = json.value("step", int64_t{0});
  state.total = json.value("total", int64_t{0});
  state.data_order_position = json.value("data_order_position", int64_t{0});
  state.loss = json.value("loss", 0.0);
  state.fingerprint = json["fingerprint"];
  try {
    EASEL_RETURN_IF_ERROR(LoadTensors(path / kTensorsFile, trainable));
    EASEL_RETURN_IF_ERROR(LoadOptimizerAndRng(
        path / kOptimizerRngFile,
        trainable.empty() ? torch::Device(torch::kCPU) : trainable.front().parameter.device(),
        optimizer, noise));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint ", path.string(), " cannot be read: ", e.what()));
  }
  return state;
}

}  // namespace easel::methods
