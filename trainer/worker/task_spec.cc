#include "trainer/worker/task_spec.h"

#include "absl/strings/str_cat.h"
#include "common/base_model_resolution.h"
#include "common/status_macros.h"
#include "google/protobuf/util/json_util.h"

namespace easel::worker {
namespace {

absl::StatusOr<nlohmann::json> StructToJson(const google::protobuf::Struct& input) {
  std::string text;
  auto status = google::protobuf::util::MessageToJsonString(input, &text);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("task input: ", status.ToString()));
  }
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

}  // namespace

absl::StatusOr<TaskSpec> MakeTaskSpec(const easel::v1::Task& task) {
  EASEL_ASSIGN_OR_RETURN(nlohmann::json input, StructToJson(task.input()));
  if (!input.is_object()) return absl::InvalidArgumentError("task input is not an object");
  TaskSpec spec;
  spec.resolution = input.contains("resolution") && input["resolution"].is_number()
                        ? static_cast<int>(input["resolution"].get<double>())
                        : BaseModelResolution(task.base_model_dir());
  spec.token_string = input.value("token_string", "TOK");
  spec.caption_prefix = input.value("caption_prefix", "a photo of " + spec.token_string);
  auto boolean = [&](const char* key, bool fallback) {
    return input.contains(key) && input[key].is_boolean() ? input[key].get<bool>() : fallback;
  };
  spec.crop_based_on_salience = boolean("crop_based_on_salience", true);
  spec.use_face_detection_instead = boolean("use_face_detection_instead", false);
  spec.aspect_buckets = boolean("aspect_buckets", false);

  // JSON numbers from a protobuf Struct are doubles; the trainer wants integers where integral.
  auto integer = [&](const char* key, int64_t fallback) -> int64_t {
    return input.contains(key) && input[key].is_number()
               ? static_cast<int64_t>(input[key].get<double>())
               : fallback;
  };
  auto number = [&](const char* key, double fallback) -> double {
    return input.contains(key) && input[key].is_number() ? input[key].get<double>() : fallback;
  };
  const int64_t rank = integer("lora_rank", 16);
  spec.trainer_spec = {
      {"method", "lora"},
      {"max_train_steps", integer("max_train_steps", 1000)},
      {"learning_rate", number("learning_rate", 1e-4)},
      {"lora_rank", rank},
      {"lora_alpha", number("lora_alpha", static_cast<double>(rank))},
      {"train_batch_size", integer("train_batch_size", 1)},
      {"lr_warmup_steps", integer("lr_warmup_steps", 0)},
      {"resolution", spec.resolution},
      {"seed", integer("seed", 0)},
      {"token_string", spec.token_string},
      {"lora_format", input.value("lora_format", "diffusers")},
      {"mixed_precision", input.value("mixed_precision", "auto")},
      {"clip_skip", integer("clip_skip", 0)},
      {"masked_loss", boolean("masked_loss", true)},
      {"checkpointing_steps", integer("checkpointing_steps", 0)},
  };
  return spec;
}

std::vector<std::string> PreprocessArgs(const TaskSpec& spec, const std::filesystem::path& bin,
                                        const std::filesystem::path& archive,
                                        const std::filesystem::path& output) {
  return {bin.string(),
          "--archive",
          archive.string(),
          "--output",
          output.string(),
          "--resolution",
          std::to_string(spec.resolution),
          "--token-string",
          spec.token_string,
          "--caption-prefix",
          spec.caption_prefix,
          "--crop-based-on-salience",
          spec.crop_based_on_salience ? "true" : "false",
          "--use-face-detection-instead",
          spec.use_face_detection_instead ? "true" : "false",
          "--aspect-buckets",
          spec.aspect_buckets ? "true" : "false"};
}

std::vector<std::string> TrainerArgs(const std::filesystem::path& bin, const TrainerPaths& paths) {
  std::vector<std::string> args = {bin.string(),
                                   "--quiet",
                                   "train",
                                   "--spec",
                                   paths.spec_file.string(),
                                   "--dataset",
                                   paths.dataset.string(),
                                   "--model",
                                   paths.model.string(),
                                   "--output",
                                   paths.output.string(),
                                   "--checkpoint-dir",
                                   paths.checkpoints.string()};
  if (!paths.resume.empty()) {
    args.push_back("--resume");
    args.push_back(paths.resume.string());
  }
  if (!paths.device.empty()) {
    args.push_back("--device");
    args.push_back(paths.device);
  }
  return args;
}

}  // namespace easel::worker
