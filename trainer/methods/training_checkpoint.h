#ifndef EASEL_TRAINER_METHODS_TRAINING_CHECKPOINT_H_
#define EASEL_TRAINER_METHODS_TRAINING_CHECKPOINT_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "trainer/lora/lora.h"

namespace torch::optim {
class Optimizer;
}  // namespace torch::optim

namespace easel::methods {

// Where a training stands after `step` steps: enough to go on as if it had never stopped
// (docs/checkpoints.md). `fingerprint` holds what must match for a resume to be exact.
struct TrainingState {
  int64_t step = 0;
  int64_t total = 0;
  int64_t data_order_position = 0;  // batches handed out (data::BucketBatchOrder::position)
  double loss = 0;
  nlohmann::json fingerprint;
};

inline constexpr int kCheckpointFormat = 1;
inline constexpr int kCheckpointsKept = 2;

// "step-00000050".
std::string CheckpointName(int64_t step);

// Writes a checkpoint of `state` into `dir`/CheckpointName(step): trainable tensors, optimizer
// state, noise generator state and training_state.json, in a ".partial" directory that is
// renamed once every file is synced, with the COMPLETE marker written last. Then deletes all
// but the newest kCheckpointsKept complete checkpoints and any leftover ".partial" directory.
// Returns the checkpoint's path.
absl::StatusOr<std::filesystem::path> SaveCheckpoint(
    const std::filesystem::path& dir, const TrainingState& state,
    const std::vector<lora::NamedParameter>& trainable, torch::optim::Optimizer& optimizer,
    const at::Generator& noise);

// Reads the checkpoint at `path` into `trainable`, `optimizer` and `noise` and returns its
// state. InvalidArgument naming the checkpoint when it is incomplete, of another format, or
// written by a run whose fingerprint differs from `fingerprint` (naming the field).
absl::StatusOr<TrainingState> LoadCheckpoint(const std::filesystem::path& path,
                                             const nlohmann::json& fingerprint,
                                             const std::vector<lora::NamedParameter>& trainable,
                                             torch::optim::Optimizer& optimizer,
                                             at::Generator& noise);

}  // namespace easel::methods

#endif  // EASEL_TRAINER_METHODS_TRAINING_CHECKPOINT_H_
