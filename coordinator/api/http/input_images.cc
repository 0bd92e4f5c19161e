#include "coordinator/api/http/input_images.h"

#include "absl/strings/str_cat.h"
#include "common/http_url.h"
#include "common/status_macros.h"
#include "coordinator/webhooks/signature.h"
#include "httplib.h"

namespace easel::coordinator {
namespace {

constexpr int kFetchTimeoutSeconds = 60;

std::string DatasetName(const StoredFile& file) { return absl::StrCat("datasets/", file.sha256); }

}  // namespace

absl::StatusOr<std::string> InputImages::Resolve(const Principal& caller,
                                                 const std::string& value) {
  if (value.starts_with("datasets/")) return value;
  if (value.starts_with("data:")) return FromDataUrl(caller, value);
  std::string own_files = absl::StrCat(base_url_, "/v1/files/");
  if (value.starts_with(own_files)) {
    std::string id = value.substr(own_files.size());
    if (id.ends_with("/download")) id.resize(id.size() - 9);
    EASEL_ASSIGN_OR_RETURN(StoredFile file, files_.Get(caller, id));
    return DatasetName(file);
  }
  EASEL_RETURN_IF_ERROR(ParseHttpUrl(value, "input_images").status());
  for (const std::string& prefix : allowed_url_prefixes_) {
    if (value.starts_with(prefix)) return Fetch(caller, value);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "input_images: ", value.substr(0, 200),
      " is neither a file uploaded here (POST /v1/files, then pass its urls.get) nor under a "
      "URL prefix this coordinator may fetch from (easel-coordinator --allow-input-url)"));
}

absl::StatusOr<std::string> InputImages::FromDataUrl(const Principal& caller,
                                                     const std::string& value) {
  size_t comma = value.find(',');
  std::string header = value.substr(5, comma == std::string::npos ? 0 : comma - 5);
  if (comma == std::string::npos || !header.ends_with(";base64")) {
    return absl::InvalidArgumentError(
        "input_images: a data: URL must be base64, e.g. data:application/zip;base64,UEsDB...");
  }
  absl::StatusOr<std::string> bytes = Base64Decode(std::string_view(value).substr(comma + 1));
  if (!bytes.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("input_images: the data: URL's content is ", bytes.status().message()));
  }
  std::string content_type = header.substr(0, header.size() - 7);
  EASEL_ASSIGN_OR_RETURN(
      StoredFile file,
      files_.Create(
          caller,
          NewFile{.name = "input_images.zip",
                  .content_type = content_type.empty() ? "application/zip" : content_type},
          *bytes));
  return DatasetName(file);
}

absl::StatusOr<std::string> InputImages::Fetch(const Principal& caller, const std::string& value) {
  EASEL_ASSIGN_OR_RETURN(HttpUrl url, ParseHttpUrl(value, "input_images"));
  httplib::Client client(url.Origin());
  client.set_follow_location(false);
  client.set_connection_timeout(kFetchTimeoutSeconds);
  client.set_read_timeout(kFetchTimeoutSeconds);
  std::string body;
  bool too_big = false;
  httplib::Result result = client.Get(url.target, [&](const char* data, size_t size) {
    if (static_cast<int64_t>(body.size() + size) > kMaxFileBytes) {
      too_big = true;
      return false;
    }
    body.append(data, size);
    return true;
  });
  if (too_big) {
    return absl::InvalidArgumentError(
        absl::StrCat("input_images: ", value, " is larger than ", kMaxFileBytes, " bytes"));
  }
  if (!result || result->status != 200) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input_images: cannot fetch ", value, ": ",
        result ? absl::StrCat("HTTP ", result->status) : httplib::to_string(result.error())));
  }
  std::string name = url.target.substr(url.target.rfind('/') + 1);
  EASEL_ASSIGN_OR_RETURN(
      StoredFile file,
      files_.Create(caller,
                    NewFile{.name = name.empty() ? "input_images.zip" : name.substr(0, 200),
                            .content_type = result->get_header_value("Content-Type")},
                    body));
  return DatasetName(file);
}

}  // namespace easel::coordinator
