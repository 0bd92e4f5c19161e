// The Replicate-compatible HTTP API of a real coordinator, over loopback: its routes, its
// errors, and the webhooks it sends to a receiver in the test.
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/sha256.h"
#include "coordinator/webhooks/signature.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tests/coordinator/coordinator_fixture.h"

namespace easel::testing {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

constexpr absl::Duration kPatience = absl::Seconds(60);

// An HTTP server in the test that records the webhooks it receives.
class WebhookReceiver {
 public:
  struct Received {
    std::string path;
    std::string id;
    std::string timestamp;
    std::string signature;
    std::string body;
  };

  // `answer` gives the HTTP status for a request; it sees what was received before it.
  explicit WebhookReceiver(std::function<int(const Received&, const std::vector<Received>&)> answer)
      : answer_(std::move(answer)) {
    server_.Post(".*", [this](const httplib::Request& request, httplib::Response& response) {
      Received received{request.path, request.get_header_value("webhook-id"),
                        request.get_header_value("webhook-timestamp"),
                        request.get_header_value("webhook-signature"), request.body};
      std::lock_guard<std::mutex> lock(mutex_);
      response.status = answer_(received, received_);
      if (response.status == 302) response.set_header("Location", Url("/moved"));
      received_.push_back(std::move(received));
      changed_.notify_all();
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~WebhookReceiver() {
    server_.stop();
    thread_.join();
  }

  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  // Waits until `done` holds for what was received (false after kPatience).
  bool WaitFor(const std::function<bool(const std::vector<Received>&)>& done) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, absl::ToChronoSeconds(kPatience),
                             [&] { return done(received_); });
  }

  std::vector<Received> received() {
    std::lock_guard<std::mutex> lock(mutex_);
    return received_;
  }

 private:
  std::function<int(const Received&, const std::vector<Received>&)> answer_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Received> received_;
};

class HttpApiTest : public CoordinatorTest {
 protected:
  void SetUp() override {
    CoordinatorTest::SetUp();
    PrepareTrainingInputs();
    alice_ = CreateToken(v1::USER, {"alice"});
    bob_ = CreateToken(v1::USER, {"bob"});
    // alice's own dataset: the one PrepareTrainingInputs uploaded is the admin's.
    Response file = UploadFile(alice_, ZipLikeBytes(1000, 'a'));
    ASSERT_EQ(file.status, 201) << file.text;
    dataset_name_ = "datasets/" + file.json["checksums"]["sha256"].get<std::string>();
  }

  struct Response {
    int status = 0;
    std::string content_type;
    std::string text;
    Json json;
  };

  static Response Read(const httplib::Result& result) {
    Response response;
    if (!result) {
      ADD_FAILURE() << "no response: " << httplib::to_string(result.error());
      return response;
    }
    response.status = result->status;
    response.content_type = result->get_header_value("Content-Type");
    response.text = result->body;
    response.json = Json::parse(result->body, nullptr, false);
    return response;
  }

  httplib::Headers Auth(const std::string& token) const {
    if (token.empty()) return {};
    return {{"Authorization", "Bearer " + token}};
  }

  // `path` is absolute ("/v1/...") or a URL the API gave out.
  std::string Path(const std::string& path_or_url) const {
    const std::string base = server_->http_base_url();
    return path_or_url.starts_with(base) ? path_or_url.substr(base.size()) : path_or_url;
  }

  Response Get(const std::string& path, const std::string& token) {
    httplib::Client client(server_->http_base_url());
    return Read(client.Get(Path(path), Auth(token)));
  }

  Response Post(const std::string& path, const std::string& token, const std::string& body) {
    httplib::Client client(server_->http_base_url());
    return Read(client.Post(Path(path), Auth(token), body, "application/json"));
  }

  Response UploadFile(const std::string& token, const std::string& bytes,
                      const std::string& metadata = R"({"purpose":"training"})") {
    httplib::Client client(server_->http_base_url());
    httplib::MultipartFormDataItems items = {{"content", bytes, "photos.zip", "application/zip"},
                                             {"metadata", metadata, "blob", "application/json"}};
    return Read(client.Post("/v1/files", Auth(token), items));
  }

  Json TrainingBody(const std::string& destination, Json input, const std::string& webhook = "") {
    Json body{{"destination", destination}, {"input", std::move(input)}};
    if (!webhook.empty()) body["webhook"] = webhook;
    return body;
  }

  Json Input() const {
    return Json{{"input_images", dataset_name_}, {"max_train_steps", 10}, {"token_string", "sks"}};
  }

  std::string TrainingsPath() const {
    return "/v1/models/acme/sd/versions/" + base_version_ + "/trainings";
  }

  void ExpectProblem(const Response& response, int status, const std::string& detail) {
    EXPECT_EQ(response.status, status) << response.text;
    EXPECT_EQ(response.content_type, "application/problem+json") << response.text;
    ASSERT_TRUE(response.json.is_object()) << response.text;
    EXPECT_EQ(response.json.value("status", 0), status);
    EXPECT_FALSE(response.json.value("title", "").empty());
    EXPECT_THAT(response.json.value("type", ""), HasSubstr("urn:easel:problem:"));
    EXPECT_THAT(response.json.value("detail", ""), HasSubstr(detail));
  }

  // Runs the training's tasks as a worker would: preprocess, then train with progress, then
  // complete with `weights`.
  void RunTraining(const std::string& training_id, const std::string& weights) {
    std::string worker = RegisterWorker();
    v1::Task preprocess = LeaseTask(worker, absl::Seconds(5)).task();
    ASSERT_EQ(preprocess.training_id(), training_id);
    v1::CompleteTaskRequest prepared;
    prepared.set_task_id(preprocess.id());
    prepared.set_epoch(preprocess.epoch());
    ASSERT_TRUE(UploadOutput(preprocess, "prepared", prepared.mutable_prepared_dataset()).ok());
    {
      grpc::ClientContext context;
      v1::CompleteTaskResponse response;
      ASSERT_TRUE(workers_->CompleteTask(&context, prepared, &response).ok());
    }
    v1::Task task = LeaseTask(worker, absl::Seconds(5)).task();
    ASSERT_EQ(task.kind(), v1::TASK_KIND_TRAIN);
    for (int step : {5, 10}) {
      grpc::ClientContext context;
      v1::ReportProgressRequest request;
      request.set_task_id(task.id());
      request.set_epoch(task.epoch());
      v1::Progress* progress = request.add_progress();
      progress->set_phase("train");
      progress->set_step(step);
      progress->set_total(10);
      progress->set_loss(0.25);
      progress->set_iterations_per_second(5);
      request.add_logs()->set_text("step " + std::to_string(step));
      v1::ReportProgressResponse response;
      ASSERT_TRUE(workers_->ReportProgress(&context, request, &response).ok());
    }
    v1::CompleteTaskRequest complete;
    complete.set_task_id(task.id());
    complete.set_epoch(task.epoch());
    ASSERT_TRUE(UploadOutput(task, weights, complete.mutable_weights()).ok());
    complete.set_weights_format("diffusers-lora");
    complete.add_trigger_tokens("sks");
    grpc::ClientContext context;
    v1::CompleteTaskResponse response;
    grpc::Status status = workers_->CompleteTask(&context, complete, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  void PrepareTrainingInputs() {
    CoordinatorTest::PrepareTrainingInputs();
    base_version_ = GetBaseVersion();
  }

  // The training's webhook deliveries once `done` holds for them; fails the test after
  // kPatience.
  Json WaitForDeliveries(const std::string& training_id,
                         const std::function<bool(const Json&)>& done) {
    absl::Time deadline = absl::Now() + kPatience;
    Json results;
    while (absl::Now() < deadline) {
      results = Get("/v1/trainings/" + training_id + "/webhook_deliveries", alice_).json["results"];
      if (done(results)) return results;
      std::this_thread::yield();
    }
    ADD_FAILURE() << "webhook deliveries did not get there: " << results.dump();
    return results;
  }

  std::string GetBaseVersion() {
    grpc::ClientContext context;
    v1::GetVersionRequest request;
    request.set_model("acme/sd");
    v1::Version version;
    EXPECT_TRUE(models_->GetVersion(&context, request, &version).ok());
    return version.id();
  }

  std::string alice_, bob_, base_version_;
};

TEST_F(HttpApiTest, EachErrorIsAProblemWithItsDocumentedStatus) {
  ExpectProblem(Get("/v1/trainings", ""), 401, "needs an API token");
  ExpectProblem(Get("/v1/trainings", "not-a-token"), 401, "");
  std::string worker = CreateToken(v1::WORKER, {});
  ExpectProblem(Get("/v1/trainings", worker), 403, "worker token");
  ExpectProblem(Post("/v1/models", alice_, "{\"owner\": \"alice\","), 400, "not valid JSON");
  ExpectProblem(Post(TrainingsPath(), alice_, "[1, 2]"), 400, "JSON object");
  ExpectProblem(Post(TrainingsPath(), alice_, TrainingBody("alice/nothing", Input()).dump()), 404,
                "destination model alice/nothing not found");
  Json bad_type = Input();
  bad_type["max_train_steps"] = "many";
  ExpectProblem(Post(TrainingsPath(), alice_, TrainingBody("alice/faces", bad_type).dump()), 422,
                "max_train_steps");
  ExpectProblem(Post(TrainingsPath(), alice_, Json{{"destination", "alice/faces"}}.dump()), 422,
                "input must be an object");
  // alice/faces is private: to bob it does not exist, to read or to train into.
  ExpectProblem(Get("/v1/models/alice/faces", bob_), 404, "alice/faces not found");
  ExpectProblem(Post(TrainingsPath(), bob_, TrainingBody("alice/faces", Input()).dump()), 404,
                "alice/faces not found");
  ExpectProblem(Post("/v1/models", bob_, R"({"owner": "alice", "name": "x"})"), 403, "alice");
  Json outside = Input();
  outside["input_images"] = "http://169.254.169.254/latest/meta-data";
  ExpectProblem(Post(TrainingsPath(), alice_, TrainingBody("alice/faces", outside).dump()), 422,
                "input_images");
  Json bad_webhook = TrainingBody("alice/faces", Input(), "ftp://example.com/hook");
  ExpectProblem(Post(TrainingsPath(), alice_, bad_webhook.dump()), 422, "webhook");
  bad_webhook = TrainingBody("alice/faces", Input(), "http://example.com/hook");
  bad_webhook["webhook_events_filter"] = {"start", "finished"};
  ExpectProblem(Post(TrainingsPath(), alice_, bad_webhook.dump()), 422, "finished");
  ExpectProblem(Get("/v1/trainings/nosuchtraining", alice_), 404, "not found");
  ExpectProblem(Get("/v1/no/such/route", alice_), 404, "no such route");
}

TEST_F(HttpApiTest, ModelsAreCreatedListedAndReadWithTheirVersions) {
  Response created =
      Post("/v1/models", alice_,
           R"({"owner": "alice", "name": "style", "visibility": "public", "hardware": "gpu-h100",
          "description": "a style LoRA"})");
  ASSERT_EQ(created.status, 201) << created.text;
  EXPECT_EQ(created.json["owner"], "alice");
  EXPECT_EQ(created.json["name"], "style");
  EXPECT_EQ(created.json["visibility"], "public");
  EXPECT_EQ(created.json["description"], "a style LoRA");
  EXPECT_TRUE(created.json["latest_version"].is_null());
  ExpectProblem(Post("/v1/models", alice_, R"({"owner": "alice", "name": "style"})"), 409, "");

  Response model = Get("/v1/models/acme/sd", alice_);  // a public base model
  ASSERT_EQ(model.status, 200) << model.text;
  EXPECT_EQ(model.json["latest_version"]["id"], base_version_);
  Response versions = Get("/v1/models/acme/sd/versions", alice_);
  ASSERT_EQ(versions.status, 200) << versions.text;
  ASSERT_EQ(versions.json["results"].size(), 1u);
  EXPECT_EQ(versions.json["results"][0]["id"], base_version_);
  EXPECT_TRUE(versions.json["next"].is_null());
  Response version = Get("/v1/models/acme/sd/versions/" + base_version_, alice_);
  ASSERT_EQ(version.status, 200) << version.text;
  EXPECT_EQ(version.json["id"], base_version_);
  EXPECT_TRUE(version.json["weights"].is_null());

  Response listed = Get("/v1/models", bob_);
  ASSERT_EQ(listed.status, 200) << listed.text;
  std::vector<std::string> names;
  for (const Json& entry : listed.json["results"]) {
    names.push_back(entry["owner"].get<std::string>() + "/" + entry["name"].get<std::string>());
  }
  // bob sees the public models, not alice's private one.
  EXPECT_THAT(names, ::testing::UnorderedElementsAre("acme/sd", "alice/style"));
}

TEST_F(HttpApiTest, FilesAreChecksummedAndServedOnlyToTheirOwners) {
  std::string bytes = ZipLikeBytes(5000, 'f');
  Response file = UploadFile(alice_, bytes);
  ASSERT_EQ(file.status, 201) << file.text;
  EXPECT_EQ(file.json["size"], bytes.size());
  EXPECT_EQ(file.json["checksums"]["sha256"], Sha256Hex(bytes));
  EXPECT_EQ(file.json["name"], "photos.zip");
  EXPECT_EQ(file.json["metadata"]["purpose"], "training");
  std::string id = file.json["id"];
  std::string url = file.json["urls"]["get"];

  Response content = Get(url, alice_);
  ASSERT_EQ(content.status, 200);
  EXPECT_EQ(content.text, bytes);
  ExpectProblem(Get(url, bob_), 404, "not found");
  ExpectProblem(Get(url, ""), 401, "");
  EXPECT_EQ(Get("/v1/files/" + id, alice_).json["checksums"]["sha256"], Sha256Hex(bytes));
  Response listed = Get("/v1/files", alice_);
  ASSERT_EQ(listed.json["results"].size(), 2u);  // and the one SetUp uploaded
  EXPECT_EQ(listed.json["results"][0]["id"], id);
  EXPECT_TRUE(Get("/v1/files", bob_).json["results"].empty());
  ExpectProblem(UploadFile(alice_, bytes, "[1]"), 422, "metadata");

  httplib::Client client(server_->http_base_url());
  EXPECT_EQ(client.Delete("/v1/files/" + id, Auth(bob_))->status, 404);
  EXPECT_EQ(client.Delete("/v1/files/" + id, Auth(alice_))->status, 204);
  ExpectProblem(Get("/v1/files/" + id, alice_), 404, "not found");
}

TEST_F(HttpApiTest, InputImagesTakeAnUploadedFileOrADataUrl) {
  std::string bytes = ZipLikeBytes(300, 'q');
  Response file = UploadFile(alice_, bytes);
  ASSERT_EQ(file.status, 201) << file.text;
  Json input = Input();
  input["input_images"] = file.json["urls"]["get"];
  Response from_file = Post(TrainingsPath(), alice_, TrainingBody("alice/faces", input).dump());
  ASSERT_EQ(from_file.status, 201) << from_file.text;
  EXPECT_EQ(from_file.json["input"]["input_images"], "datasets/" + Sha256Hex(bytes));
  // bob cannot train on alice's file.
  ASSERT_TRUE(CreateModel("bob", "faces").ok());
  ExpectProblem(Post(TrainingsPath(), bob_, TrainingBody("bob/faces", input).dump()), 404,
                "not found");

  std::string other = ZipLikeBytes(200, 'd');
  input["input_images"] = "data:application/zip;base64," + coordinator::Base64Encode(other);
  Response from_data = Post(TrainingsPath(), alice_, TrainingBody("alice/faces", input).dump());
  ASSERT_EQ(from_data.status, 201) << from_data.text;
  EXPECT_EQ(from_data.json["input"]["input_images"], "datasets/" + Sha256Hex(other));
  input["input_images"] = "data:application/zip,not-base64";
  ExpectProblem(Post(TrainingsPath(), alice_, TrainingBody("alice/faces", input).dump()), 422,
                "base64");
}

TEST_F(HttpApiTest, ATrainingRunsToSucceededWithSignedWebhooksAndTqdmLogs) {
  WebhookReceiver receiver([](const auto&, const auto&) { return 200; });
  Response created = Post(TrainingsPath(), alice_,
                          TrainingBody("alice/faces", Input(), receiver.Url("/hook")).dump());
  ASSERT_EQ(created.status, 201) << created.text;
  std::string id = created.json["id"];
  EXPECT_EQ(created.json["status"], "starting");
  EXPECT_EQ(created.json["urls"]["get"], server_->http_base_url() + "/v1/trainings/" + id);
  EXPECT_EQ(created.json["webhook"], receiver.Url("/hook"));
  // urls.web is a page (no token needed to load it; it asks for one to read the training).
  httplib::Client browser(server_->http_base_url());
  httplib::Result page = browser.Get(Path(created.json["urls"]["web"]));
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->get_header_value("Content-Type"), ::testing::StartsWith("text/html"));
  EXPECT_THAT(page->body, HasSubstr("/v1/trainings/"));

  std::string weights = "trained weights";
  RunTraining(id, weights);

  Response done = Get("/v1/trainings/" + id, alice_);
  ASSERT_EQ(done.status, 200) << done.text;
  EXPECT_EQ(done.json["status"], "succeeded");
  EXPECT_TRUE(done.json["error"].is_null());
  std::string version = done.json["output"]["version"];
  EXPECT_THAT(version, ::testing::StartsWith("alice/faces:"));
  EXPECT_EQ(Get(done.json["output"]["weights"], alice_).text, weights);
  EXPECT_THAT(done.json["logs"].get<std::string>(),
              HasSubstr("step 10\n 100%|██████████| 10/10 [00:02<00:00,  5.00it/s, loss=0.25]\n"));
  EXPECT_TRUE(done.json["metrics"]["total_time"].is_number());
  EXPECT_TRUE(done.json["completed_at"].is_string());
  Response new_version =
      Get("/v1/models/alice/faces/versions/" + version.substr(version.find(':') + 1), alice_);
  EXPECT_EQ(new_version.json["trigger_tokens"], Json::array({"sks"}));
  Response listed = Get("/v1/trainings", alice_);
  ASSERT_EQ(listed.json["results"].size(), 1u);
  EXPECT_EQ(listed.json["results"][0]["id"], id);
  EXPECT_TRUE(Get("/v1/trainings", bob_).json["results"].empty());
  ExpectProblem(Get("/v1/trainings/" + id, bob_), 404, "not found");

  // Every delivery recorded as delivered (the receiver answers before the record is made).
  Json deliveries = WaitForDeliveries(id, [](const Json& results) {
    if (results.empty() || results.back()["event"] != "completed") return false;
    for (const Json& delivery : results) {
      if (delivery["state"] != "delivered") return false;
    }
    return true;
  });
  Response secret = Get("/v1/webhooks/default/secret", alice_);
  ASSERT_EQ(secret.status, 200) << secret.text;
  EXPECT_NE(secret.json["key"], Get("/v1/webhooks/default/secret", bob_).json["key"]);
  std::vector<WebhookReceiver::Received> received = receiver.received();
  for (const auto& webhook : received) {
    EXPECT_EQ(webhook.path, "/hook");
    EXPECT_EQ(*coordinator::SignWebhook(secret.json["key"].get<std::string>(), webhook.id,
                                        std::stoll(webhook.timestamp), webhook.body),
              webhook.signature);
    EXPECT_EQ(Json::parse(webhook.body)["id"], id);
  }
  // "start" shows the training as created, "completed" as it ended, with its output.
  EXPECT_EQ(Json::parse(received.front().body)["status"], "starting");
  EXPECT_EQ(Json::parse(received.back().body)["output"]["version"], version);

  std::vector<std::string> events;
  for (const Json& delivery : deliveries) {
    events.push_back(delivery["event"]);
    EXPECT_EQ(delivery["state"], "delivered");
    EXPECT_EQ(delivery["attempts"], 1);
  }
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.front(), "start");
  EXPECT_EQ(events[events.size() - 2], "output");
  EXPECT_EQ(events.back(), "completed");
  EXPECT_EQ(received.size(), events.size());
}

TEST_F(HttpApiTest, AFailedWebhookIsRetriedUnderTheSameIdAndARedirectIsNotFollowed) {
  // The first attempt of every webhook fails; /redirect answers 302.
  WebhookReceiver receiver([](const WebhookReceiver::Received& webhook, const auto& before) {
    if (webhook.path == "/redirect") return 302;
    for (const auto& earlier : before) {
      if (earlier.id == webhook.id) return 200;
    }
    return 500;
  });
  Json retried = TrainingBody("alice/faces", Input(), receiver.Url("/flaky"));
  retried["webhook_events_filter"] = {"completed"};
  Response first = Post(TrainingsPath(), alice_, retried.dump());
  ASSERT_EQ(first.status, 201) << first.text;
  Response second = Post(TrainingsPath(), alice_,
                         TrainingBody("alice/faces", Input(), receiver.Url("/redirect")).dump());
  ASSERT_EQ(second.status, 201) << second.text;
  for (const Response& training : {first, second}) {
    Response canceled = Post(training.json["urls"]["cancel"], alice_, "");
    ASSERT_EQ(canceled.status, 200) << canceled.text;
    EXPECT_EQ(canceled.json["status"], "canceled");
  }
  ExpectProblem(Post(first.json["urls"]["cancel"], alice_, ""), 409, "");

  ASSERT_TRUE(receiver.WaitFor([](const auto& got) {
    int flaky = 0, redirected = 0;
    for (const auto& webhook : got) (webhook.path == "/flaky" ? flaky : redirected)++;
    return flaky == 2 && redirected >= 2;  // one retry; start and completed to /redirect
  }));
  std::vector<WebhookReceiver::Received> received = receiver.received();
  std::vector<std::string> flaky_ids;
  for (const auto& webhook : received) {
    EXPECT_NE(webhook.path, "/moved");
    if (webhook.path == "/flaky") flaky_ids.push_back(webhook.id);
  }
  ASSERT_EQ(flaky_ids.size(), 2u);
  EXPECT_EQ(flaky_ids[0], flaky_ids[1]);

  Json retried_deliveries =
      Get("/v1/trainings/" + first.json["id"].get<std::string>() + "/webhook_deliveries", alice_)
          .json["results"];
  ASSERT_EQ(retried_deliveries.size(), 1u);
  EXPECT_EQ(retried_deliveries[0]["event"], "completed");
  EXPECT_EQ(retried_deliveries[0]["id"], flaky_ids[0]);
  Json redirected =
      Get("/v1/trainings/" + second.json["id"].get<std::string>() + "/webhook_deliveries", alice_)
          .json["results"];
  ASSERT_FALSE(redirected.empty());
  EXPECT_THAT(redirected[0]["last_response"].get<std::string>(), ::testing::StartsWith("302"));
  EXPECT_NE(redirected[0]["state"], "delivered");
}

TEST_F(HttpApiTest, ListsPageWithAbsoluteCursorUrls) {
  for (int i = 0; i < 23; ++i) {
    ASSERT_EQ(Post(TrainingsPath(), alice_, TrainingBody("alice/faces", Input()).dump()).status,
              201);
  }
  Response first = Get("/v1/trainings", alice_);
  ASSERT_EQ(first.status, 200) << first.text;
  EXPECT_EQ(first.json["results"].size(), 20u);
  ASSERT_TRUE(first.json["next"].is_string());
  EXPECT_THAT(first.json["next"].get<std::string>(),
              ::testing::StartsWith(server_->http_base_url() + "/v1/trainings?cursor="));
  Response second = Get(first.json["next"], alice_);
  ASSERT_EQ(second.status, 200) << second.text;
  EXPECT_EQ(second.json["results"].size(), 3u);
  EXPECT_TRUE(second.json["next"].is_null());
}

// input_images URLs under an allowed prefix are fetched by the coordinator; redirects are not
// followed, and other URLs are refused.
class HttpApiFetchTest : public HttpApiTest {
 protected:
  HttpApiFetchTest() {
    files_.Get("/datasets/photos.zip",
               [this](const httplib::Request&, httplib::Response& response) {
                 response.set_content(zip_, "application/zip");
               });
    files_.Get("/datasets/moved.zip", [this](const httplib::Request&, httplib::Response& response) {
      response.set_redirect(Url("/datasets/photos.zip"));
    });
    port_ = files_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { files_.listen_after_bind(); });
    while (!files_.is_running()) std::this_thread::yield();  // stop() must reach it
  }
  ~HttpApiFetchTest() override {
    files_.stop();
    thread_.join();
  }
  void ConfigureServer(CoordinatorOptions& options) override {
    options.allowed_input_url_prefixes = {Url("/datasets/")};
  }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  const std::string zip_ = ZipLikeBytes(700, 'u');
  httplib::Server files_;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(HttpApiFetchTest, FetchesAllowedUrlsOnlyAndFollowsNoRedirect) {
  Json input = Input();
  input["input_images"] = Url("/datasets/photos.zip");
  Response fetched = Post(TrainingsPath(), alice_, TrainingBody("alice/faces", input).dump());
  ASSERT_EQ(fetched.status, 201) << fetched.text;
  EXPECT_EQ(fetched.json["input"]["input_images"], "datasets/" + Sha256Hex(zip_));

  input["input_images"] = Url("/datasets/moved.zip");
  ExpectProblem(Post(TrainingsPath(), alice_, TrainingBody("alice/faces", input).dump()), 422,
                "HTTP 302");
  input["input_images"] = Url("/elsewhere/photos.zip");
  ExpectProblem(Post(TrainingsPath(), alice_, TrainingBody("alice/faces", input).dump()), 422,
                "--allow-input-url");
}

}  // namespace
}  // namespace easel::testing
