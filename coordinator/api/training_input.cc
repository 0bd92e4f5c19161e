#include "coordinator/api/training_input.h"

#include <cmath>
#include <optional>
#include <random>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "coordinator/registry/dataset_registry.h"

namespace easel::coordinator {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

constexpr int64_t kMaxExactInteger = (int64_t{1} << 53) - 1;
constexpr int64_t kDefaultCheckpointingSteps = 250;

const std::vector<std::string>& KnownInputs() {
  static const std::vector<std::string> known = {
      "input_images",  "token_string",     "caption_prefix",  "max_train_steps",
      "learning_rate", "lora_rank",        "lora_alpha",      "resolution",
      "train_batch_size", "lr_warmup_steps", "seed", "lora_format", "mixed_precision",
      "clip_skip", "crop_based_on_salience", "use_face_detection_instead", "aspect_buckets",
      "masked_loss", "checkpointing_steps"};
  return known;
}

const char* KindName(const Value& value) {
  switch (value.kind_case()) {
    case Value::kNumberValue: return "a number";
    case Value::kStringValue: return "a string";
    case Value::kBoolValue: return "a boolean";
    case Value::kStructValue: return "an object";
    case Value::kListValue: return "a list";
    default: return "null";
  }
}

// Reads inputs from one Struct; null counts as absent.
class InputReader {
 public:
  explicit InputReader(const Struct& input) : input_(input) {}

  const Value* Find(std::string_view field) const {
    auto it = input_.fields().find(std::string(field));
    if (it == input_.fields().end() || it->second.kind_case() == Value::kNullValue) return nullptr;
    return &it->second;
  }

  absl::StatusOr<std::optional<std::string>> String(std::string_view field) const {
    const Value* value = Find(field);
    if (value == nullptr) return std::nullopt;
    if (value->kind_case() != Value::kStringValue) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(field), " must be a string, got ", KindName(*value)));
    }
    return value->string_value();
  }

  absl::StatusOr<std::optional<int64_t>> Integer(std::string_view field, int64_t min,
                                                 int64_t max) const {
    const Value* value = Find(field);
    if (value == nullptr) return std::nullopt;
    if (value->kind_case() != Value::kNumberValue) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(field), " must be an integer, got ", KindName(*value)));
    }
    double number = value->number_value();
    if (!std::isfinite(number) || number != std::floor(number)) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(field), " must be an integer, got ", number));
    }
    if (number < static_cast<double>(min) || number > static_cast<double>(max)) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(field), " must be between ", min, " and ", max, ", got ", number));
    }
    return static_cast<int64_t>(number);
  }

  absl::StatusOr<std::optional<double>> Number(std::string_view field) const {
    const Value* value = Find(field);
    if (value == nullptr) return std::nullopt;
    if (value->kind_case() != Value::kNumberValue || !std::isfinite(value->number_value())) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(field), " must be a number, got ", KindName(*value)));
    }
    return value->number_value();
  }

  absl::StatusOr<std::optional<bool>> Boolean(std::string_view field) const {
    const Value* value = Find(field);
    if (value == nullptr) return std::nullopt;
    if (value->kind_case() != Value::kBoolValue) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(field), " must be a boolean, got ", KindName(*value)));
    }
    return value->bool_value();
  }

  // One of `choices` (the first is the default when absent).
  absl::StatusOr<std::string> Choice(std::string_view field,
                                     const std::vector<std::string>& choices) const {
    EASEL_ASSIGN_OR_RETURN(std::optional<std::string> value, String(field));
    if (!value.has_value()) return choices.front();
    for (const std::string& choice : choices) {
      if (*value == choice) return choice;
    }
    return absl::InvalidArgumentError(absl::StrCat(std::string(field), " must be one of ",
                                                   absl::StrJoin(choices, ", "), "; got '",
                                                   *value, "'"));
  }

 private:
  const Struct& input_;
};

void SetNumber(Struct& out, const std::string& field, double value) {
  (*out.mutable_fields())[field].set_number_value(value);
}

void SetBool(Struct& out, const std::string& field, bool value) {
  (*out.mutable_fields())[field].set_bool_value(value);
}

void SetString(Struct& out, const std::string& field, const std::string& value) {
  (*out.mutable_fields())[field].set_string_value(value);
}

}  // namespace

int64_t DrawRandomSeed() {
  std::random_device device;
  return static_cast<int64_t>(device() & 0x7fffffffu);
}

absl::StatusOr<TrainingInput> ValidateTrainingInput(const Struct& input,
                                                    const DatasetCheck& dataset_exists,
                                                    const std::function<int64_t()>& draw_seed) {
  for (const auto& [key, value] : input.fields()) {
    bool known = false;
    for (const std::string& name : KnownInputs()) known = known || name == key;
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat("unknown input '", key,
                                                     "'; known inputs: ",
                                                     absl::StrJoin(KnownInputs(), ", ")));
    }
  }
  InputReader reader(input);
  TrainingInput result;
  Struct& out = result.input;

  EASEL_ASSIGN_OR_RETURN(std::optional<std::string> images, reader.String("input_images"));
  if (!images.has_value() || images->empty()) {
    return absl::InvalidArgumentError(
        "input_images is required: the uploaded dataset as \"datasets/<sha256>\"");
  }
  EASEL_ASSIGN_OR_RETURN(result.dataset_sha256, ParseDatasetName(*images, "input_images"));
  absl::Status exists = dataset_exists(result.dataset_sha256);
  if (absl::IsNotFound(exists)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input_images: dataset datasets/", result.dataset_sha256,
        " has not been uploaded; upload the zip first (easel datasets upload FILE)"));
  }
  EASEL_RETURN_IF_ERROR(exists);
  SetString(out, "input_images", *images);

  EASEL_ASSIGN_OR_RETURN(std::optional<std::string> token, reader.String("token_string"));
  std::string token_string = token.value_or("TOK");
  if (token_string.empty() || token_string.size() > 32) {
    return absl::InvalidArgumentError(absl::StrCat("token_string must be 1-32 characters, got ",
                                                   token_string.size()));
  }
  for (char c : token_string) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(
          absl::StrCat("token_string '", token_string, "' must not contain whitespace"));
    }
  }
  SetString(out, "token_string", token_string);

  EASEL_ASSIGN_OR_RETURN(std::optional<std::string> prefix, reader.String("caption_prefix"));
  SetString(out, "caption_prefix", prefix.value_or(absl::StrCat("a photo of ", token_string)));

  EASEL_ASSIGN_OR_RETURN(std::optional<int64_t> steps,
                         reader.Integer("max_train_steps", 1, 100000));
  int64_t max_train_steps = steps.value_or(1000);
  SetNumber(out, "max_train_steps", static_cast<double>(max_train_steps));

  EASEL_ASSIGN_OR_RETURN(std::optional<double> lr, reader.Number("learning_rate"));
  double learning_rate = lr.value_or(1e-4);
  if (!(learning_rate > 0 && learning_rate <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("learning_rate must be in (0, 1], got ", learning_rate));
  }
  SetNumber(out, "learning_rate", learning_rate);

  EASEL_ASSIGN_OR_RETURN(std::optional<int64_t> rank, reader.Integer("lora_rank", 1, 256));
  int64_t lora_rank = rank.value_or(16);
  SetNumber(out, "lora_rank", static_cast<double>(lora_rank));

  EASEL_ASSIGN_OR_RETURN(std::optional<double> alpha, reader.Number("lora_alpha"));
  double lora_alpha = alpha.value_or(static_cast<double>(lora_rank));
  if (!(lora_alpha > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("lora_alpha must be greater than 0, got ", lora_alpha));
  }
  SetNumber(out, "lora_alpha", lora_alpha);

  EASEL_ASSIGN_OR_RETURN(std::optional<int64_t> resolution,
                         reader.Integer("resolution", 32, 2048));
  if (resolution.has_value()) {
    if (*resolution % 8 != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("resolution must be a multiple of 8, got ", *resolution));
    }
    SetNumber(out, "resolution", static_cast<double>(*resolution));
  }

  EASEL_ASSIGN_OR_RETURN(std::optional<int64_t> batch, reader.Integer("train_batch_size", 1, 64));
  SetNumber(out, "train_batch_size", static_cast<double>(batch.value_or(1)));

  EASEL_ASSIGN_OR_RETURN(std::optional<int64_t> warmup,
                         reader.Integer("lr_warmup_steps", 0, max_train_steps));
  SetNumber(out, "lr_warmup_steps", static_cast<double>(warmup.value_or(0)));

  EASEL_ASSIGN_OR_RETURN(std::optional<int64_t> checkpointing,
                         reader.Integer("checkpointing_steps", 0, max_train_steps));
  SetNumber(out, "checkpointing_steps",
            static_cast<double>(checkpointing.value_or(kDefaultCheckpointingSteps)));

  EASEL_ASSIGN_OR_RETURN(std::optional<int64_t> seed, reader.Integer("seed", 0, kMaxExactInteger));
  SetNumber(out, "seed", static_cast<double>(seed.has_value() ? *seed : draw_seed()));

  EASEL_ASSIGN_OR_RETURN(std::string lora_format,
                         reader.Choice("lora_format", {"diffusers", "kohya"}));
  SetString(out, "lora_format", lora_format);
  EASEL_ASSIGN_OR_RETURN(std::string mixed_precision,
                         reader.Choice("mixed_precision", {"auto", "no", "bf16", "fp16"}));
  SetString(out, "mixed_precision", mixed_precision);

  EASEL_ASSIGN_OR_RETURN(std::optional<int64_t> clip_skip, reader.Integer("clip_skip", 0, 12));
  SetNumber(out, "clip_skip", static_cast<double>(clip_skip.value_or(0)));

  EASEL_ASSIGN_OR_RETURN(std::optional<bool> salience, reader.Boolean("crop_based_on_salience"));
  SetBool(out, "crop_based_on_salience", salience.value_or(true));
  EASEL_ASSIGN_OR_RETURN(std::optional<bool> faces,
                         reader.Boolean("use_face_detection_instead"));
  SetBool(out, "use_face_detection_instead", faces.value_or(false));
  EASEL_ASSIGN_OR_RETURN(std::optional<bool> buckets, reader.Boolean("aspect_buckets"));
  if (buckets.value_or(false) && resolution.has_value() && *resolution < 64) {
    return absl::InvalidArgumentError(absl::StrCat(
        "aspect_buckets needs a resolution of at least 64, got ", *resolution));
  }
  SetBool(out, "aspect_buckets", buckets.value_or(false));
  EASEL_ASSIGN_OR_RETURN(std::optional<bool> masked_loss, reader.Boolean("masked_loss"));
  SetBool(out, "masked_loss", masked_loss.value_or(true));
  return result;
}

}  // namespace easel::coordinator
