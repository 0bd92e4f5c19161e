#ifndef EASEL_COORDINATOR_API_HTTP_REPLICATE_JSON_H_
#define EASEL_COORDINATOR_API_HTTP_REPLICATE_JSON_H_

#include <string>

#include "absl/status/status.h"
#include "coordinator/blobs/file_store.h"
#include "easel/v1/resources.pb.h"
#include "nlohmann/json.hpp"

namespace easel::coordinator {

// Easel's resources as Replicate's HTTP API shows them. `base_url` is the coordinator's
// public HTTP address ("http://host:port"): URLs in the objects are absolute.
nlohmann::ordered_json TrainingJson(const v1::Training& training, const std::string& base_url);
nlohmann::ordered_json ModelJson(const v1::Model& model, const v1::Version* latest,
                                 const std::string& base_url);
nlohmann::ordered_json VersionJson(const v1::Version& version, const std::string& base_url);
nlohmann::ordered_json FileJson(const StoredFile& file, const std::string& base_url);

// "starting", "processing", "succeeded", "failed" or "canceled".
std::string StatusText(v1::TrainingStatus status);
// RFC 3339 in UTC with microseconds, e.g. "2026-12-06T04:09:36.123456Z".
std::string TimeText(int64_t unix_micros);

// An error as an RFC 9457 problem: the HTTP status for the status code, and the body
// {"type", "title", "status", "detail"} (served as application/problem+json).
struct Problem {
  int http_status;
  std::string body;
};
Problem ToProblem(const absl::Status& status);

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_API_HTTP_REPLICATE_JSON_H_
