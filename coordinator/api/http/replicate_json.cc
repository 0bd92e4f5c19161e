#include "coordinator/api/http/replicate_json.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"

namespace easel::coordinator {
namespace {

using Json = nlohmann::ordered_json;

int64_t Micros(const google::protobuf::Timestamp& time) {
  return time.seconds() * 1000000 + time.nanos() / 1000;
}

bool IsSet(const google::protobuf::Timestamp& time) {
  return time.seconds() != 0 || time.nanos() != 0;
}

Json TimeOrNull(const google::protobuf::Timestamp& time) {
  return IsSet(time) ? Json(TimeText(Micros(time))) : Json(nullptr);
}

Json StructJson(const google::protobuf::Struct& input) {
  std::string text;
  if (!google::protobuf::util::MessageToJsonString(input, &text).ok()) return Json::object();
  return Json::parse(text, nullptr, false);
}

std::string ModelPath(const std::string& model) { return absl::StrCat("/v1/models/", model); }

std::string WeightsUrl(const std::string& model, const std::string& version_id,
                       const std::string& base_url) {
  return absl::StrCat(base_url, ModelPath(model), "/versions/", version_id, "/weights");
}

}  // namespace

std::string StatusText(v1::TrainingStatus status) {
  if (status == v1::TRAINING_STATUS_UNSPECIFIED) return "starting";
  return absl::AsciiStrToLower(v1::TrainingStatus_Name(status));
}

std::string TimeText(int64_t unix_micros) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::FromUnixMicros(unix_micros),
                          absl::UTCTimeZone());
}

Json TrainingJson(const v1::Training& training, const std::string& base_url) {
  std::string self = absl::StrCat(base_url, "/v1/trainings/", training.id());
  Json output = nullptr;
  if (!training.output().version().empty()) {
    const std::string& version = training.output().version();
    size_t colon = version.rfind(':');
    output =
        Json{{"version", version},
             {"weights", WeightsUrl(version.substr(0, colon), version.substr(colon + 1), base_url)},
             {"weights_sha256", training.output().weights_digest()},
             {"trigger_tokens", training.output().trigger_tokens()}};
  }
  Json metrics = Json::object();
  if (IsSet(training.complete_time())) {
    int64_t end = Micros(training.complete_time());
    metrics["total_time"] = (end - Micros(training.create_time())) / 1e6;
    if (IsSet(training.start_time())) {
      metrics["predict_time"] = (end - Micros(training.start_time())) / 1e6;
    }
  }
  Json json{
      {"id", training.id()},
      {"model", training.model()},
      {"version", training.version()},
      {"destination", training.destination()},
      {"input", StructJson(training.input())},
      {"output", output},
      {"logs", training.logs()},
      {"error", training.error().empty() ? Json(nullptr) : Json(training.error())},
      {"status", StatusText(training.status())},
      {"source", "api"},
      {"created_at", TimeOrNull(training.create_time())},
      {"started_at", TimeOrNull(training.start_time())},
      {"completed_at", TimeOrNull(training.complete_time())},
      {"metrics", metrics},
      {"urls",
       {{"get", self},
        {"cancel", absl::StrCat(self, "/cancel")},
        {"web", absl::StrCat(base_url, "/trainings/", training.id())}}},
  };
  if (!training.webhook().empty()) {
    json["webhook"] = training.webhook();
    json["webhook_events_filter"] = training.webhook_events_filter();
  }
  if (training.has_dataset_report()) {
    json["dataset"] = {{"images_used", training.dataset_report().images_used()},
                       {"images_skipped", training.dataset_report().images_skipped()},
                       {"warning_count", training.dataset_report().warning_count()}};
  }
  return json;
}

Json VersionJson(const v1::Version& version, const std::string& base_url) {
  bool trained = !version.weights_digest().empty();
  return Json{
      {"id", version.id()},
      {"model", version.model()},
      {"created_at", TimeOrNull(version.create_time())},
      {"cog_version", nullptr},
      {"openapi_schema", nullptr},
      {"base_version",
       version.base_version().empty() ? Json(nullptr) : Json(version.base_version())},
      {"trigger_tokens", version.trigger_tokens()},
      {"weights",
       trained ? Json(WeightsUrl(version.model(), version.id(), base_url)) : Json(nullptr)},
      {"weights_sha256", trained ? Json(version.weights_digest()) : Json(nullptr)},
      {"weights_size", version.weights_size()},
      {"weights_format", version.weights_format()},
      {"training_id", version.training_id().empty() ? Json(nullptr) : Json(version.training_id())},
  };
}

Json ModelJson(const v1::Model& model, const v1::Version* latest, const std::string& base_url) {
  std::string full_name = absl::StrCat(model.owner(), "/", model.name());
  return Json{
      {"url", absl::StrCat(base_url, ModelPath(full_name))},
      {"owner", model.owner()},
      {"name", model.name()},
      {"description", model.description()},
      {"visibility", model.visibility().empty() ? "private" : model.visibility()},
      {"github_url", nullptr},
      {"paper_url", nullptr},
      {"license_url", nullptr},
      {"run_count", 0},
      {"cover_image_url", nullptr},
      {"default_example", nullptr},
      {"created_at", TimeOrNull(model.create_time())},
      {"version_count", model.version_count()},
      {"latest_version", latest == nullptr ? Json(nullptr) : VersionJson(*latest, base_url)},
  };
}

Json FileJson(const StoredFile& file, const std::string& base_url) {
  Json metadata = Json::parse(file.metadata_json, nullptr, false);
  if (metadata.is_discarded()) metadata = Json::object();
  return Json{
      {"id", file.id},
      {"name", file.name},
      {"content_type", file.content_type},
      {"size", file.size},
      {"etag", file.sha256},
      {"checksums", {{"sha256", file.sha256}}},
      {"metadata", metadata},
      {"created_at", TimeText(file.create_us)},
      {"expires_at", nullptr},
      {"urls", {{"get", absl::StrCat(base_url, "/v1/files/", file.id, "/download")}}},
  };
}

Problem ToProblem(const absl::Status& status) {
  struct Kind {
    int http_status;
    const char* type;
    const char* title;
  };
  auto kind = [&]() -> Kind {
    switch (status.code()) {
      case absl::StatusCode::kInvalidArgument:
        return {422, "invalid-input", "Invalid input"};
      case absl::StatusCode::kNotFound:
        return {404, "not-found", "Not found"};
      case absl::StatusCode::kUnauthenticated:
        return {401, "unauthenticated", "Unauthenticated"};
      case absl::StatusCode::kPermissionDenied:
        return {403, "permission-denied", "Forbidden"};
      case absl::StatusCode::kAlreadyExists:
        return {409, "already-exists", "Already exists"};
      case absl::StatusCode::kFailedPrecondition:
        return {409, "conflict", "Conflict"};
      case absl::StatusCode::kResourceExhausted:
        return {413, "too-large", "Too large"};
      case absl::StatusCode::kUnavailable:
        return {503, "unavailable", "Unavailable"};
      case absl::StatusCode::kUnimplemented:
        return {405, "not-allowed", "Method not allowed"};
      default:
        return {500, "internal", "Internal error"};
    }
  }();
  Json body{{"type", absl::StrCat("urn:easel:problem:", kind.type)},
            {"title", kind.title},
            {"status", kind.http_status},
            {"detail", std::string(status.message())}};
  return {kind.http_status, body.dump()};
}

}  // namespace easel::coordinator
