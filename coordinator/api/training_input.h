#ifndef EASEL_COORDINATOR_API_TRAINING_INPUT_H_
#define EASEL_COORDINATOR_API_TRAINING_INPUT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/struct.pb.h"

namespace easel::coordinator {

struct TrainingInput {
  google::protobuf::Struct input;  // validated, with every default filled in
  std::string dataset_sha256;
};

// OK when a dataset with this digest was uploaded; NOT_FOUND otherwise.
using DatasetCheck = std::function<absl::Status(std::string_view sha256)>;

// Validates a CreateTraining `input`; every problem is INVALID_ARGUMENT naming the field.
// When `seed` is absent, `draw_seed` picks one, so the stored input reproduces the run.
absl::StatusOr<TrainingInput> ValidateTrainingInput(const google::protobuf::Struct& input,
                                                    const DatasetCheck& dataset_exists,
                                                    const std::function<int64_t()>& draw_seed);

int64_t DrawRandomSeed();

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_API_TRAINING_INPUT_H_
