#include "trainer/methods/training_spec.h"

#include <cmath>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace easel::methods {
namespace {

constexpr int64_t kUnbounded = int64_t{1} << 40;

absl::Status FieldError(const std::string& field, const std::string& what,
                        const nlohmann::json& value) {
  return absl::InvalidArgumentError(
      absl::StrCat("training spec: ", field, " ", what, ", got ", value.dump()));
}

// Accepts integers and integral floats (10.0).
absl::Status ReadInt(const nlohmann::json& json, const std::string& field, int64_t min,
                     int64_t max, int64_t* out) {
  auto it = json.find(field);
  if (it == json.end() || it->is_null()) return absl::OkStatus();
  double value = 0;
  if (it->is_number_integer()) {
    value = static_cast<double>(it->get<int64_t>());
  } else if (it->is_number_float() && std::floor(it->get<double>()) == it->get<double>()) {
    value = it->get<double>();
  } else {
    return FieldError(field, "must be an integer", *it);
  }
  if (value < static_cast<double>(min) || value > static_cast<double>(max)) {
    return FieldError(field,
                      max >= kUnbounded ? absl::StrCat("must be >= ", min)
                                        : absl::StrCat("must be in [", min, ", ", max, "]"),
                      *it);
  }
  *out = static_cast<int64_t>(value);
  return absl::OkStatus();
}

absl::Status ReadPositiveNumber(const nlohmann::json& json, const std::string& field,
                                double* out) {
  auto it = json.find(field);
  if (it == json.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_number() || !std::isfinite(it->get<double>())) {
    return FieldError(field, "must be a number", *it);
  }
  if (!(it->get<double>() > 0)) return FieldError(field, "must be > 0", *it);
  *out = it->get<double>();
  return absl::OkStatus();
}

absl::Status ReadString(const nlohmann::json& json, const std::string& field, std::string* out) {
  auto it = json.find(field);
  if (it == json.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_string()) return FieldError(field, "must be a string", *it);
  *out = it->get<std::string>();
  return absl::OkStatus();
}

absl::Status ReadBool(const nlohmann::json& json, const std::string& field, bool* out) {
  auto it = json.find(field);
  if (it == json.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_boolean()) return FieldError(field, "must be true or false", *it);
  *out = it->get<bool>();
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> TrainingSpec::TriggerTokens() const {
  return absl::StrSplit(token_string, absl::ByAnyChar(" \t\n,"), absl::SkipEmpty());
}

absl::StatusOr<TrainingSpec> ParseTrainingSpec(const nlohmann::json& json) {
  if (!json.is_object()) {
    return absl::InvalidArgumentError("training spec: expected a JSON object");
  }
  TrainingSpec spec;
  EASEL_RETURN_IF_ERROR(ReadString(json, "method", &spec.method));
  if (spec.method != "lora") {
    return absl::InvalidArgumentError(absl::StrCat(
        "training spec: method must be \"lora\" (the only method this trainer runs), got \"",
        spec.method, "\""));
  }
  EASEL_RETURN_IF_ERROR(
      ReadInt(json, "max_train_steps", 1, kUnbounded, &spec.max_train_steps));
  EASEL_RETURN_IF_ERROR(ReadPositiveNumber(json, "learning_rate", &spec.learning_rate));
  EASEL_RETURN_IF_ERROR(ReadInt(json, "lora_rank", 1, kMaxLoraRank, &spec.lora_rank));
  spec.lora_alpha = static_cast<double>(spec.lora_rank);
  EASEL_RETURN_IF_ERROR(ReadPositiveNumber(json, "lora_alpha", &spec.lora_alpha));
  EASEL_RETURN_IF_ERROR(ReadInt(json, "train_batch_size", 1, 4096, &spec.train_batch_size));
  EASEL_RETURN_IF_ERROR(ReadInt(json, "resolution", 0, 4096, &spec.resolution));
  if (spec.resolution != 0 && (spec.resolution < 8 || spec.resolution % 8 != 0)) {
    return FieldError("resolution", "must be a multiple of 8 (or 0 for the dataset's)",
                      json["resolution"]);
  }
  if (auto it = json.find("seed"); it != json.end() && !it->is_null()) {
    const bool negative = it->is_number_integer() && !it->is_number_unsigned() &&
                          it->get<int64_t>() < 0;
    if (!it->is_number_integer() || negative) {
      return FieldError("seed", "must be an integer >= 0", *it);
    }
    spec.seed = it->is_number_unsigned() ? it->get<uint64_t>()
                                         : static_cast<uint64_t>(it->get<int64_t>());
  }
  EASEL_RETURN_IF_ERROR(ReadInt(json, "lr_warmup_steps", 0, kUnbounded, &spec.lr_warmup_steps));
  EASEL_RETURN_IF_ERROR(ReadString(json, "token_string", &spec.token_string));
  EASEL_RETURN_IF_ERROR(ReadInt(json, "progress_every", 1, kUnbounded, &spec.progress_every));
  EASEL_RETURN_IF_ERROR(ReadString(json, "mixed_precision", &spec.mixed_precision));
  if (spec.mixed_precision != "no" && spec.mixed_precision != "bf16" &&
      spec.mixed_precision != "fp16" && spec.mixed_precision != "auto") {
    return FieldError("mixed_precision", "must be \"auto\", \"no\", \"bf16\" or \"fp16\"",
                      json["mixed_precision"]);
  }

  EASEL_RETURN_IF_ERROR(ReadInt(json, "clip_skip", 0, 64, &spec.clip_skip));
  EASEL_RETURN_IF_ERROR(ReadString(json, "lora_format", &spec.lora_format));
  if (spec.lora_format != "diffusers" && spec.lora_format != "kohya") {
    return FieldError("lora_format", "must be \"diffusers\" or \"kohya\"", json["lora_format"]);
  }

  EASEL_RETURN_IF_ERROR(ReadBool(json, "masked_loss", &spec.masked_loss));
  EASEL_RETURN_IF_ERROR(
      ReadInt(json, "checkpointing_steps", 0, kUnbounded, &spec.checkpointing_steps));

  if (auto it = json.find("lora_target_modules"); it != json.end() && !it->is_null()) {
    if (!it->is_array() || it->empty()) {
      return FieldError("lora_target_modules", "must be a non-empty array of strings", *it);
    }
    spec.lora_target_modules.clear();
    for (const auto& target : *it) {
      if (!target.is_string() || target.get<std::string>().empty()) {
        return FieldError("lora_target_modules", "must be a non-empty array of strings", *it);
      }
      spec.lora_target_modules.push_back(target.get<std::string>());
    }
  }

  static const std::set<std::string> kKnown = {
      "method",          "max_train_steps", "learning_rate",  "lora_rank",
      "lora_alpha",      "lora_target_modules", "train_batch_size", "resolution",
      "seed",            "lr_warmup_steps", "token_string",   "progress_every",
      "mixed_precision", "lora_format",     "clip_skip",      "masked_loss",
      "checkpointing_steps"};
  for (const auto& [key, value] : json.items()) {
    if (!kKnown.contains(key)) spec.unknown_fields.push_back(key);
  }
  return spec;
}

}  // namespace easel::methods
