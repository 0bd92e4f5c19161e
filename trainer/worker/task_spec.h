#ifndef EASEL_TRAINER_WORKER_TASK_SPEC_H_
#define EASEL_TRAINER_WORKER_TASK_SPEC_H_

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "easel/v1/worker.pb.h"
#include "nlohmann/json.hpp"

namespace easel::worker {

// What the children of one task are asked to do, derived from the training's input.
struct TaskSpec {
  int resolution = 512;
  std::string token_string;
  std::string caption_prefix;
  bool crop_based_on_salience = true;
  bool use_face_detection_instead = false;
  bool aspect_buckets = false;
  nlohmann::json trainer_spec;  // written as the trainer's --spec file
};

// Resolution: the input's, else the base model's VAE sample_size, else 512.
absl::StatusOr<TaskSpec> MakeTaskSpec(const easel::v1::Task& task);

std::vector<std::string> PreprocessArgs(const TaskSpec& spec, const std::filesystem::path& bin,
                                        const std::filesystem::path& archive,
                                        const std::filesystem::path& output);

// Where one easel-trainer run reads and writes.
struct TrainerPaths {
  std::filesystem::path spec_file;
  std::filesystem::path dataset;
  std::filesystem::path model;
  std::filesystem::path output;
  std::filesystem::path checkpoints;
  std::filesystem::path resume;  // empty: start from the beginning
  std::string device;            // empty: the trainer's default (auto)
};

std::vector<std::string> TrainerArgs(const std::filesystem::path& bin, const TrainerPaths& paths);

}  // namespace easel::worker

#endif  // EASEL_TRAINER_WORKER_TASK_SPEC_H_
