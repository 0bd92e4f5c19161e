#include "coordinator/api/http/http_api.h"

#include <chrono>
#include <fstream>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "coordinator/api/http/replicate_json.h"
#include "coordinator/api/http/training_page.h"
#include "coordinator/auth/access.h"
#include "coordinator/log.h"
#include "coordinator/registry/names.h"
#include "google/protobuf/util/json_util.h"
#include "httplib.h"

namespace easel::coordinator {
namespace {

using Json = nlohmann::ordered_json;

constexpr char kMalformedPayload[] = "urn:easel:problem:malformed";
// Requests are served by a pool of threads; a kept-alive connection holds one between requests.
constexpr size_t kServingThreads = 64;
constexpr size_t kKeepAliveRequests = 100;
constexpr size_t kMaxBodyBytes = static_cast<size_t>(kMaxFileBytes) + (1 << 20);

struct Reply {
  int status = 200;
  Json body;
};
using Handler = std::function<absl::StatusOr<Reply>(const Principal&, const httplib::Request&)>;

// A request the server cannot read at all (400), as opposed to a readable one with a bad
// value (422).
absl::Status Malformed(std::string detail) {
  absl::Status status = absl::InvalidArgumentError(std::move(detail));
  status.SetPayload(kMalformedPayload, absl::Cord("1"));
  return status;
}

void SendProblem(httplib::Response& response, const absl::Status& status) {
  Problem problem = ToProblem(status);
  if (status.GetPayload(kMalformedPayload).has_value()) {
    problem.http_status = 400;
    problem.body = Json{{"type", kMalformedPayload},
                        {"title", "Malformed request"},
                        {"status", 400},
                        {"detail", std::string(status.message())}}
                       .dump();
  }
  response.status = problem.http_status;
  response.set_content(problem.body, "application/problem+json");
}

absl::StatusOr<Json> JsonBody(const httplib::Request& request) {
  Json body = Json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return Malformed("the request body is not valid JSON");
  if (!body.is_object()) return Malformed("the request body must be a JSON object");
  return body;
}

// The string field `name` of `body`: "" when absent; INVALID_ARGUMENT when not a string.
absl::StatusOr<std::string> StringField(const Json& body, const char* name, bool required) {
  auto field = body.find(name);
  if (field == body.end() || field->is_null()) {
    if (required) return absl::InvalidArgumentError(absl::StrCat(name, " is required"));
    return std::string();
  }
  if (!field->is_string())
    return absl::InvalidArgumentError(absl::StrCat(name, " must be a string"));
  return field->get<std::string>();
}

std::string PercentEncode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out;
}

Json NextUrl(const std::string& base_url, const std::string& path,
             const std::string& next_page_token) {
  if (next_page_token.empty()) return nullptr;
  return absl::StrCat(base_url, path, "?cursor=", PercentEncode(next_page_token));
}

Json Page(Json results, Json next) {
  return Json{{"next", std::move(next)}, {"previous", nullptr}, {"results", std::move(results)}};
}

std::string Match(const httplib::Request& request, int index) {
  return request.matches[index].str();
}

std::string ModelName(const httplib::Request& request) {
  return absl::StrCat(Match(request, 1), "/", Match(request, 2));
}

// Streams a blob as the response body, named `filename` for downloads.
absl::Status ServeBlob(BlobStore& blobs, const std::string& sha256, const std::string& content_type,
                       const std::string& filename, httplib::Response& response) {
  EASEL_ASSIGN_OR_RETURN(int64_t size, blobs.Size(sha256));
  auto file = std::make_shared<std::ifstream>(blobs.PathFor(sha256), std::ios::binary);
  if (!*file) return absl::UnavailableError(absl::StrCat("cannot read blob ", sha256));
  std::string safe_name = filename;
  for (char& c : safe_name) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < ' ') c = '_';
  }
  response.set_header("Content-Disposition",
                      absl::StrCat("attachment; filename=\"", safe_name, "\""));
  response.set_content_provider(
      static_cast<size_t>(size), content_type,
      [file](size_t offset, size_t length, httplib::DataSink& sink) {
        std::vector<char> buffer(std::min<size_t>(length, size_t{1} << 20));
        file->seekg(static_cast<std::streamoff>(offset));
        file->read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        std::streamsize got = file->gcount();
        if (got <= 0) return false;
        sink.write(buffer.data(), static_cast<size_t>(got));
        return true;
      });
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpApi>> HttpApi::Bind(const HttpApiOptions& options,
                                                       HttpApiParts parts) {
  std::unique_ptr<HttpApi> api(new HttpApi(parts));
  size_t colon = options.listen_address.rfind(':');
  int port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(options.listen_address.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("--http-listen ", options.listen_address,
                                                   " must be HOST:PORT, e.g. 127.0.0.1:7501"));
  }
  std::string host = options.listen_address.substr(0, colon);
  api->server_ = std::make_unique<httplib::Server>();
  api->server_->set_payload_max_length(kMaxBodyBytes);
  api->server_->set_keep_alive_max_count(kKeepAliveRequests);
  api->server_->set_tcp_nodelay(true);  // else small responses wait out delayed ACKs (40 ms)
  api->server_->new_task_queue = [] { return new httplib::ThreadPool(kServingThreads); };
  api->port_ = port == 0 ? api->server_->bind_to_any_port(host)
                         : (api->server_->bind_to_port(host, port) ? port : -1);
  if (api->port_ <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for HTTP on ", options.listen_address,
                                               "; is the address valid and the port free?"));
  }
  api->base_url_ = options.public_url.empty() ? absl::StrCat("http://", host, ":", api->port_)
                                              : options.public_url;
  while (api->base_url_.ends_with("/")) api->base_url_.pop_back();
  api->input_images_ = std::make_unique<InputImages>(parts.files, api->base_url_,
                                                     options.allowed_input_url_prefixes);
  api->AddRoutes();
  return api;
}

HttpApi::HttpApi(HttpApiParts parts) : parts_(parts) {}

HttpApi::~HttpApi() { Stop(); }

absl::StatusOr<Principal> HttpApi::Caller(const httplib::Request& request) {
  EASEL_ASSIGN_OR_RETURN(Principal caller,
                         parts_.auth.FromHeader(request.get_header_value("Authorization")));
  if (caller.role() == Role::kWorker) {
    return absl::PermissionDeniedError("a worker token cannot use the public API");
  }
  return caller;
}

void HttpApi::Serve() {
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    listen_ended_ = true;
  });
  // Until the server runs, stop() would not reach it: wait for it to start (or fail to).
  while (!server_->is_running() && !listen_ended_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void HttpApi::Stop() {
  if (server_ != nullptr) server_->stop();
  if (thread_.joinable()) thread_.join();
}

void HttpApi::AddRoutes() {
  httplib::Server& server = *server_;
  std::string base = base_url_;
  HttpApiParts p = parts_;  // the lambdas keep copies (of references)

  // Every /v1 route: authenticate, run, answer JSON or a problem; nothing escapes.
  auto route = [this](Handler handler) {
    return [this, handler = std::move(handler)](const httplib::Request& request,
                                                httplib::Response& response) {
      try {
        absl::StatusOr<Principal> caller = Caller(request);
        absl::StatusOr<Reply> reply =
            caller.ok() ? handler(*caller, request) : absl::StatusOr<Reply>(caller.status());
        if (!reply.ok()) return SendProblem(response, reply.status());
        response.status = reply->status;
        if (reply->status != 204) response.set_content(reply->body.dump(), "application/json");
      } catch (const std::exception& e) {
        SendProblem(response, absl::InternalError(absl::StrCat("internal error: ", e.what())));
      }
    };
  };

  server.set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request& request, httplib::Response& response) {
        if (!response.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        if (response.status == 404) {
          SendProblem(response, absl::NotFoundError(absl::StrCat("no such route: ", request.method,
                                                                 " ", request.path)));
        } else if (response.status == 413) {
          SendProblem(response, absl::ResourceExhaustedError(absl::StrCat(
                                    "the request body is larger than ", kMaxBodyBytes, " bytes")));
        } else {
          SendProblem(response, Malformed(absl::StrCat("HTTP ", response.status)));
        }
        return httplib::Server::HandlerResponse::Handled;
      }));

  server.Get("/v1/account",
             route([](const Principal& caller, const httplib::Request&) -> absl::StatusOr<Reply> {
               std::string name = caller.is_admin()         ? "admin"
                                  : caller.owners().empty() ? ""
                                                            : caller.owners()[0];
               return Reply{200, Json{{"type", caller.is_admin() ? "admin" : "user"},
                                      {"username", name},
                                      {"name", name},
                                      {"owners", caller.owners()},
                                      {"github_url", nullptr}}};
             }));

  // Models and versions.
  server.Post(
      "/v1/models", route([p, base](const Principal& caller,
                                    const httplib::Request& request) -> absl::StatusOr<Reply> {
        EASEL_ASSIGN_OR_RETURN(Json body, JsonBody(request));
        v1::CreateModelRequest create;
        EASEL_ASSIGN_OR_RETURN(*create.mutable_owner(), StringField(body, "owner", true));
        EASEL_ASSIGN_OR_RETURN(*create.mutable_name(), StringField(body, "name", true));
        EASEL_ASSIGN_OR_RETURN(*create.mutable_description(),
                               StringField(body, "description", false));
        EASEL_ASSIGN_OR_RETURN(*create.mutable_visibility(),
                               StringField(body, "visibility", false));
        EASEL_RETURN_IF_ERROR(StringField(body, "hardware", false).status());  // accepted, unused
        EASEL_RETURN_IF_ERROR(ValidateNamePart(create.owner(), "owner"));
        EASEL_RETURN_IF_ERROR(CheckActsFor(caller, create.owner()));
        EASEL_ASSIGN_OR_RETURN(v1::Model model, p.models.CreateModel(create));
        return Reply{201, ModelJson(model, nullptr, base)};
      }));
  auto model_json = [p, base](const v1::Model& model) -> absl::StatusOr<Json> {
    if (model.latest_version_id().empty()) return ModelJson(model, nullptr, base);
    EASEL_ASSIGN_OR_RETURN(v1::Version latest,
                           p.models.GetVersion(absl::StrCat(model.owner(), "/", model.name()),
                                               model.latest_version_id()));
    return ModelJson(model, &latest, base);
  };
  server.Get("/v1/models",
             route([p, base, model_json](const Principal& caller,
                                         const httplib::Request& request) -> absl::StatusOr<Reply> {
               v1::ListModelsRequest list;
               list.set_page_token(request.get_param_value("cursor"));
               EASEL_ASSIGN_OR_RETURN(v1::ListModelsResponse page,
                                      p.models.ListModels(list, OwnerScope::Of(caller)));
               Json results = Json::array();
               for (const v1::Model& model : page.models()) {
                 EASEL_ASSIGN_OR_RETURN(Json json, model_json(model));
                 results.push_back(std::move(json));
               }
               return Reply{200, Page(std::move(results),
                                      NextUrl(base, "/v1/models", page.next_page_token()))};
             }));
  server.Get(R"(/v1/models/([^/]+)/([^/]+))",
             route([p, model_json](const Principal& caller,
                                   const httplib::Request& request) -> absl::StatusOr<Reply> {
               EASEL_ASSIGN_OR_RETURN(v1::Model model,
                                      p.model_service.ReadableModel(caller, ModelName(request)));
               EASEL_ASSIGN_OR_RETURN(Json json, model_json(model));
               return Reply{200, std::move(json)};
             }));
  server.Get(R"(/v1/models/([^/]+)/([^/]+)/versions)",
             route([p, base](const Principal& caller,
                             const httplib::Request& request) -> absl::StatusOr<Reply> {
               std::string model = ModelName(request);
               EASEL_RETURN_IF_ERROR(p.model_service.ReadableModel(caller, model).status());
               v1::ListVersionsRequest list;
               list.set_model(model);
               list.set_page_token(request.get_param_value("cursor"));
               EASEL_ASSIGN_OR_RETURN(v1::ListVersionsResponse page, p.models.ListVersions(list));
               Json results = Json::array();
               for (const v1::Version& version : page.versions()) {
                 results.push_back(VersionJson(version, base));
               }
               return Reply{200, Page(std::move(results),
                                      NextUrl(base, absl::StrCat("/v1/models/", model, "/versions"),
                                              page.next_page_token()))};
             }));
  server.Get(R"(/v1/models/([^/]+)/([^/]+)/versions/([^/]+))",
             route([p, base](const Principal& caller,
                             const httplib::Request& request) -> absl::StatusOr<Reply> {
               std::string model = ModelName(request);
               EASEL_RETURN_IF_ERROR(p.model_service.ReadableModel(caller, model).status());
               EASEL_ASSIGN_OR_RETURN(v1::Version version,
                                      p.models.GetVersion(model, Match(request, 3)));
               return Reply{200, VersionJson(version, base)};
             }));
  server.Get(R"(/v1/models/([^/]+)/([^/]+)/versions/([^/]+)/weights)",
             [this](const httplib::Request& request, httplib::Response& response) {
               absl::Status status = [&]() -> absl::Status {
                 EASEL_ASSIGN_OR_RETURN(Principal caller, Caller(request));
                 std::string model = ModelName(request);
                 EASEL_RETURN_IF_ERROR(parts_.model_service.ReadableModel(caller, model).status());
                 EASEL_ASSIGN_OR_RETURN(v1::Version version,
                                        parts_.models.GetVersion(model, Match(request, 3)));
                 if (version.weights_digest().empty()) {
                   return absl::NotFoundError(absl::StrCat(
                       "version ", model, ":", version.id(),
                       " is a base model (a diffusers directory); it has no weights file"));
                 }
                 return ServeBlob(
                     parts_.blobs, version.weights_digest(), "application/octet-stream",
                     absl::StrCat(Match(request, 2), "-", version.id(), ".safetensors"), response);
               }();
               if (!status.ok()) SendProblem(response, status);
             });

  // Trainings.
  server.Post(
      R"(/v1/models/([^/]+)/([^/]+)/versions/([^/]+)/trainings)",
      route([this, p, base](const Principal& caller,
                            const httplib::Request& request) -> absl::StatusOr<Reply> {
        EASEL_ASSIGN_OR_RETURN(Json body, JsonBody(request));
        v1::CreateTrainingRequest create;
        create.set_model(ModelName(request));
        create.set_version(Match(request, 3));
        EASEL_ASSIGN_OR_RETURN(*create.mutable_destination(),
                               StringField(body, "destination", true));
        EASEL_ASSIGN_OR_RETURN(*create.mutable_webhook(), StringField(body, "webhook", false));
        if (auto filter = body.find("webhook_events_filter");
            filter != body.end() && !filter->is_null()) {
          if (!filter->is_array()) {
            return absl::InvalidArgumentError("webhook_events_filter must be a list");
          }
          for (const Json& event : *filter) {
            if (!event.is_string()) {
              return absl::InvalidArgumentError("webhook_events_filter must be a list of strings");
            }
            create.add_webhook_events_filter(event.get<std::string>());
          }
        }
        auto input = body.find("input");
        if (input == body.end() || !input->is_object()) {
          return absl::InvalidArgumentError("input must be an object of training inputs");
        }
        if (auto images = input->find("input_images");
            images != input->end() && images->is_string()) {
          EASEL_ASSIGN_OR_RETURN(*images,
                                 input_images_->Resolve(caller, images->get<std::string>()));
        }
        auto parsed =
            google::protobuf::util::JsonStringToMessage(input->dump(), create.mutable_input());
        if (!parsed.ok()) {
          return absl::InvalidArgumentError(absl::StrCat("input: ", parsed.ToString()));
        }
        create.set_request_id(request.get_header_value("Idempotency-Key"));
        EASEL_ASSIGN_OR_RETURN(v1::Training training, p.training_service.Create(caller, create));
        return Reply{201, TrainingJson(training, base)};
      }));
  server.Get(
      "/v1/trainings", route([p, base](const Principal& caller,
                                       const httplib::Request& request) -> absl::StatusOr<Reply> {
        v1::ListTrainingsRequest list;
        list.set_page_token(request.get_param_value("cursor"));
        EASEL_ASSIGN_OR_RETURN(v1::ListTrainingsResponse page,
                               p.trainings.List(list, OwnerScope::Of(caller)));
        Json results = Json::array();
        for (const v1::Training& training : page.trainings()) {
          results.push_back(TrainingJson(training, base));
        }
        return Reply{
            200, Page(std::move(results), NextUrl(base, "/v1/trainings", page.next_page_token()))};
      }));
  server.Get(R"(/v1/trainings/([^/]+))",
             route([p, base](const Principal& caller,
                             const httplib::Request& request) -> absl::StatusOr<Reply> {
               EASEL_ASSIGN_OR_RETURN(v1::Training training,
                                      p.training_service.Visible(caller, Match(request, 1)));
               return Reply{200, TrainingJson(training, base)};
             }));
  server.Post(R"(/v1/trainings/([^/]+)/cancel)",
              route([p, base](const Principal& caller,
                              const httplib::Request& request) -> absl::StatusOr<Reply> {
                std::string id = Match(request, 1);
                EASEL_RETURN_IF_ERROR(p.training_service.Visible(caller, id).status());
                EASEL_ASSIGN_OR_RETURN(v1::Training training, p.trainings.Cancel(id));
                return Reply{200, TrainingJson(training, base)};
              }));
  server.Get(
      R"(/v1/trainings/([^/]+)/webhook_deliveries)",
      route([p](const Principal& caller, const httplib::Request& request) -> absl::StatusOr<Reply> {
        std::string id = Match(request, 1);
        EASEL_RETURN_IF_ERROR(p.training_service.Visible(caller, id).status());
        EASEL_ASSIGN_OR_RETURN(std::vector<WebhookDelivery> deliveries, p.webhooks.ForTraining(id));
        Json results = Json::array();
        for (const WebhookDelivery& delivery : deliveries) {
          results.push_back(
              Json{{"id", delivery.id},
                   {"event", delivery.event},
                   {"url", delivery.url},
                   {"state", delivery.state},
                   {"attempts", delivery.attempts},
                   {"last_response", delivery.last_response},
                   {"created_at", TimeText(delivery.create_us)},
                   {"delivered_at", delivery.delivered_us ? Json(TimeText(*delivery.delivered_us))
                                                          : Json(nullptr)}});
        }
        return Reply{200, Page(std::move(results), nullptr)};
      }));

  // Files.
  server.Post(
      "/v1/files", route([p, base](const Principal& caller,
                                   const httplib::Request& request) -> absl::StatusOr<Reply> {
        if (!request.is_multipart_form_data() || !request.has_file("content")) {
          return Malformed(
              "POST /v1/files takes multipart/form-data with the file in the part \"content\"");
        }
        const httplib::MultipartFormData& content = request.get_file_value("content");
        NewFile file{.name = content.filename.empty() ? "file" : content.filename,
                     .content_type = content.content_type.empty() ? "application/octet-stream"
                                                                  : content.content_type};
        if (request.has_file("filename")) file.name = request.get_file_value("filename").content;
        if (request.has_file("type")) file.content_type = request.get_file_value("type").content;
        if (request.has_file("metadata")) {
          Json metadata = Json::parse(request.get_file_value("metadata").content, nullptr, false);
          if (!metadata.is_object()) {
            return absl::InvalidArgumentError("metadata must be a JSON object");
          }
          file.metadata_json = metadata.dump();
        }
        EASEL_ASSIGN_OR_RETURN(StoredFile stored, p.files.Create(caller, file, content.content));
        return Reply{201, FileJson(stored, base)};
      }));
  server.Get(
      "/v1/files", route([p, base](const Principal& caller,
                                   const httplib::Request& request) -> absl::StatusOr<Reply> {
        constexpr int kPage = 100;
        int64_t before = 0;
        std::string cursor = request.get_param_value("cursor");
        if (!cursor.empty() && !absl::SimpleAtoi(cursor, &before)) {
          return absl::InvalidArgumentError("cursor: not a cursor this server gave out");
        }
        EASEL_ASSIGN_OR_RETURN(std::vector<StoredFile> files, p.files.List(caller, kPage, before));
        Json results = Json::array();
        for (const StoredFile& file : files) results.push_back(FileJson(file, base));
        std::string next = files.size() == kPage ? absl::StrCat(files.back().create_us) : "";
        return Reply{200, Page(std::move(results), NextUrl(base, "/v1/files", next))};
      }));
  server.Get(R"(/v1/files/([^/]+))",
             route([p, base](const Principal& caller,
                             const httplib::Request& request) -> absl::StatusOr<Reply> {
               EASEL_ASSIGN_OR_RETURN(StoredFile file, p.files.Get(caller, Match(request, 1)));
               return Reply{200, FileJson(file, base)};
             }));
  server.Delete(
      R"(/v1/files/([^/]+))",
      route([p](const Principal& caller, const httplib::Request& request) -> absl::StatusOr<Reply> {
        EASEL_RETURN_IF_ERROR(p.files.Delete(caller, Match(request, 1)));
        return Reply{204, nullptr};
      }));
  server.Get(R"(/v1/files/([^/]+)/download)", [this](const httplib::Request& request,
                                                     httplib::Response& response) {
    absl::Status status = [&]() -> absl::Status {
      EASEL_ASSIGN_OR_RETURN(Principal caller, Caller(request));
      EASEL_ASSIGN_OR_RETURN(StoredFile file, parts_.files.Get(caller, Match(request, 1)));
      return ServeBlob(parts_.blobs, file.sha256, file.content_type, file.name, response);
    }();
    if (!status.ok()) SendProblem(response, status);
  });

  // Webhooks.
  server.Get(
      "/v1/webhooks/default/secret",
      route([p](const Principal& caller, const httplib::Request& request) -> absl::StatusOr<Reply> {
        std::string owner = request.get_param_value("owner");
        if (owner.empty()) {
          if (caller.is_admin() || caller.owners().empty()) {
            return absl::InvalidArgumentError(
                "name the owner whose webhooks the secret signs: "
                "/v1/webhooks/default/secret?owner=NAME");
          }
          owner = caller.owners()[0];
        }
        EASEL_RETURN_IF_ERROR(CheckActsFor(caller, owner));
        EASEL_ASSIGN_OR_RETURN(std::string secret, p.webhooks.SecretFor(owner));
        return Reply{200, Json{{"key", secret}}};
      }));

  // The training's web page: reads the training through the API with the visitor's token.
  server.Get(R"(/trainings/([a-z0-9]+))", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(kTrainingPage, "text/html; charset=utf-8");
  });
}

}  // namespace easel::coordinator
