#ifndef EASEL_COORDINATOR_API_HTTP_INPUT_IMAGES_H_
#define EASEL_COORDINATOR_API_HTTP_INPUT_IMAGES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/auth/principal.h"
#include "coordinator/blobs/file_store.h"

namespace easel::coordinator {

// The forms input_images takes over HTTP, turned into the dataset name training reads
// ("datasets/SHA256"):
//  - the URL of a file uploaded here (urls.get of POST /v1/files);
//  - a data: URL (base64), stored as a file of the caller's;
//  - an http(s) URL that starts with one of `allowed_url_prefixes`, fetched by the coordinator
//    (redirects not followed); any other URL is refused, so that a caller cannot make the
//    coordinator request addresses of its choosing;
//  - "datasets/SHA256", as the gRPC API takes it.
class InputImages {
 public:
  InputImages(FileStore& files, std::string base_url, std::vector<std::string> allowed_url_prefixes)
      : files_(files),
        base_url_(std::move(base_url)),
        allowed_url_prefixes_(std::move(allowed_url_prefixes)) {}

  // INVALID_ARGUMENT naming input_images for anything else.
  absl::StatusOr<std::string> Resolve(const Principal& caller, const std::string& value);

 private:
  absl::StatusOr<std::string> FromDataUrl(const Principal& caller, const std::string& value);
  absl::StatusOr<std::string> Fetch(const Principal& caller, const std::string& value);

  FileStore& files_;
  std::string base_url_;
  std::vector<std::string> allowed_url_prefixes_;
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_API_HTTP_INPUT_IMAGES_H_
