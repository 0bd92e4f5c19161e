#include <chrono>
#include <string>
#include <vector>

#include "coordinator/store/database.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/coordinator/coordinator_fixture.h"

namespace easel::testing {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;

// The public API as one token sees it.
struct Client {
  explicit Client(const std::shared_ptr<grpc::Channel>& channel)
      : datasets(v1::DatasetService::NewStub(channel)),
        models(v1::ModelService::NewStub(channel)),
        trainings(v1::TrainingService::NewStub(channel)),
        workers(v1::WorkerService::NewStub(channel)) {}

  grpc::Status CreateModel(const std::string& owner, const std::string& name,
                           const std::string& visibility = "private") {
    grpc::ClientContext context;
    v1::CreateModelRequest request;
    request.set_owner(owner);
    request.set_name(name);
    request.set_visibility(visibility);
    v1::Model model;
    return models->CreateModel(&context, request, &model);
  }

  grpc::Status GetModel(const std::string& model) {
    grpc::ClientContext context;
    // A client that cannot complete the TLS handshake may wait instead of failing.
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::GetModelRequest request;
    request.set_model(model);
    v1::Model response;
    return models->GetModel(&context, request, &response);
  }

  std::vector<std::string> ListModels() {
    grpc::ClientContext context;
    v1::ListModelsRequest request;
    v1::ListModelsResponse response;
    grpc::Status status = models->ListModels(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::vector<std::string> names;
    for (const auto& model : response.models()) names.push_back(model.owner() + "/" + model.name());
    return names;
  }

  grpc::Status ListVersions(const std::string& model) {
    grpc::ClientContext context;
    v1::ListVersionsRequest request;
    request.set_model(model);
    v1::ListVersionsResponse response;
    return models->ListVersions(&context, request, &response);
  }

  grpc::Status Upload(const std::string& upload_id, const std::string& bytes,
                      v1::Dataset* dataset) {
    grpc::ClientContext context;
    auto writer = datasets->UploadDataset(&context, dataset);
    v1::UploadDatasetRequest header;
    header.mutable_header()->set_upload_id(upload_id);
    header.mutable_header()->set_filename("photos.zip");
    header.mutable_header()->set_size_bytes(static_cast<int64_t>(bytes.size()));
    header.mutable_header()->set_sha256(Sha256Hex(bytes));
    writer->Write(header);
    v1::UploadDatasetRequest chunk;
    chunk.mutable_chunk()->set_data(bytes);
    writer->Write(chunk);
    writer->WritesDone();
    return writer->Finish();
  }

  grpc::Status GetUpload(const std::string& upload_id) {
    grpc::ClientContext context;
    v1::GetUploadRequest request;
    request.set_upload_id(upload_id);
    v1::Upload upload;
    return datasets->GetUpload(&context, request, &upload);
  }

  grpc::Status GetDataset(const std::string& name) {
    grpc::ClientContext context;
    v1::GetDatasetRequest request;
    request.set_name(name);
    v1::Dataset dataset;
    return datasets->GetDataset(&context, request, &dataset);
  }

  grpc::Status Train(const std::string& destination, const std::string& dataset,
                     v1::Training* training, const std::string& request_id = "") {
    grpc::ClientContext context;
    v1::CreateTrainingRequest request;
    request.set_model("acme/sd");
    request.set_destination(destination);
    request.set_request_id(request_id);
    (*request.mutable_input()->mutable_fields())["input_images"].set_string_value(dataset);
    return trainings->CreateTraining(&context, request, training);
  }

  grpc::Status GetTraining(const std::string& id) {
    grpc::ClientContext context;
    v1::GetTrainingRequest request;
    request.set_id(id);
    v1::Training training;
    return trainings->GetTraining(&context, request, &training);
  }

  std::vector<std::string> ListTrainings() {
    grpc::ClientContext context;
    v1::ListTrainingsRequest request;
    v1::ListTrainingsResponse response;
    grpc::Status status = trainings->ListTrainings(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::vector<std::string> ids;
    for (const auto& training : response.trainings()) ids.push_back(training.id());
    return ids;
  }

  grpc::Status Cancel(const std::string& id) {
    grpc::ClientContext context;
    v1::CancelTrainingRequest request;
    request.set_id(id);
    v1::Training training;
    return trainings->CancelTraining(&context, request, &training);
  }

  grpc::Status Watch(const std::string& id) {
    grpc::ClientContext context;
    v1::WatchTrainingRequest request;
    request.set_id(id);
    auto reader = trainings->WatchTraining(&context, request);
    v1::TrainingEvent event;
    while (reader->Read(&event)) {
    }
    return reader->Finish();
  }

  grpc::Status RegisterWorker() {
    grpc::ClientContext context;
    v1::RegisterWorkerRequest request;
    request.set_name("w");
    request.add_devices()->set_kind("cpu");
    v1::RegisterWorkerResponse response;
    return workers->RegisterWorker(&context, request, &response);
  }

  std::unique_ptr<v1::DatasetService::Stub> datasets;
  std::unique_ptr<v1::ModelService::Stub> models;
  std::unique_ptr<v1::TrainingService::Stub> trainings;
  std::unique_ptr<v1::WorkerService::Stub> workers;
};

class AuthTest : public CoordinatorTest {
 protected:
  void SetUp() override {
    CoordinatorTest::SetUp();
    ImportBase("acme/sd");
    alice_token_ = CreateToken(v1::USER, {"alice"}, &alice_);
  }

  Client ClientWith(const std::string& token) { return Client(Channel(token)); }

  v1::Token alice_;
  std::string alice_token_;
};

TEST_F(AuthTest, CallsWithoutAValidTokenAreUnauthenticated) {
  Client anonymous = ClientWith("");
  grpc::Status status = anonymous.GetModel("acme/sd");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(status.error_message(), HasSubstr("authorization: Bearer"));
  EXPECT_EQ(anonymous.RegisterWorker().error_code(), grpc::StatusCode::UNAUTHENTICATED);

  Client forged = ClientWith("easel_thisisnotatokenthecoordinatorknows00");
  status = forged.GetModel("acme/sd");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(status.error_message(), HasSubstr("not valid"));

  EXPECT_TRUE(ClientWith(alice_token_).GetModel("acme/sd").ok());
}

TEST_F(AuthTest, AnOwnersTokenCannotReadListCancelOrTrainIntoAnothersResources) {
  Client alice = ClientWith(alice_token_);
  Client bob = ClientWith(CreateToken(v1::USER, {"bob"}));
  ASSERT_TRUE(alice.CreateModel("alice", "faces").ok());
  ASSERT_TRUE(bob.CreateModel("bob", "pets").ok());
  v1::Dataset alice_photos;
  ASSERT_TRUE(alice.Upload("alice-upload", ZipLikeBytes(500, 'a'), &alice_photos).ok());
  v1::Dataset bob_photos;
  ASSERT_TRUE(bob.Upload("bob-upload", ZipLikeBytes(500, 'b'), &bob_photos).ok());
  v1::Training training;
  grpc::Status trained = alice.Train("alice/faces", alice_photos.name(), &training, "alice-req");
  ASSERT_TRUE(trained.ok()) << trained.error_message();

  // Alice sees her own resources.
  EXPECT_TRUE(alice.GetModel("alice/faces").ok());
  EXPECT_TRUE(alice.GetTraining(training.id()).ok());
  EXPECT_EQ(alice.ListTrainings(), std::vector<std::string>{training.id()});
  EXPECT_TRUE(alice.GetDataset(alice_photos.name()).ok());

  // Bob reads nothing of hers, and what he is refused reads as missing.
  grpc::Status status = bob.GetModel("alice/faces");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "model alice/faces not found");
  EXPECT_EQ(bob.GetModel("alice/nothing").error_message(), "model alice/nothing not found");
  EXPECT_EQ(bob.ListVersions("alice/faces").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(bob.ListModels(), (std::vector<std::string>{"acme/sd", "bob/pets"}));
  status = bob.GetTraining(training.id());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "training " + training.id() + " not found");
  EXPECT_TRUE(bob.ListTrainings().empty());
  EXPECT_EQ(bob.Watch(training.id()).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(bob.GetDataset(alice_photos.name()).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(bob.GetUpload("alice-upload").error_code(), grpc::StatusCode::NOT_FOUND);

  // He cannot cancel her training: it is still running for her.
  EXPECT_EQ(bob.Cancel(training.id()).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetTraining(training.id()).status(), v1::STARTING);

  // He cannot train into her model, nor train on her dataset, nor create models as her.
  v1::Training refused;
  status = bob.Train("alice/faces", bob_photos.name(), &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("destination model alice/faces not found"));
  status = bob.Train("bob/pets", alice_photos.name(), &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("has not been uploaded"));
  EXPECT_EQ(bob.CreateModel("alice", "sneaky").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // Her request_id does not hand him her training.
  status = bob.Train("bob/pets", bob_photos.name(), &refused, "alice-req");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_FALSE(refused.has_create_time());
  // Nor does her upload_id let him write into her upload.
  v1::Dataset overwritten;
  EXPECT_EQ(bob.Upload("alice-upload", ZipLikeBytes(500, 'c'), &overwritten).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);

  // The same bytes uploaded by Bob become his to use too.
  v1::Dataset same_bytes;
  ASSERT_TRUE(bob.Upload("bob-copy", ZipLikeBytes(500, 'a'), &same_bytes).ok());
  EXPECT_EQ(same_bytes.name(), alice_photos.name());
  EXPECT_TRUE(bob.Train("bob/pets", same_bytes.name(), &refused).ok());

  // Admins see everything.
  Client admin = ClientWith(admin_token_);
  EXPECT_EQ(admin.ListTrainings().size(), 2u);
  EXPECT_TRUE(admin.GetModel("alice/faces").ok());
}

TEST_F(AuthTest, PublicModelsAreReadableByEveryoneButChangedOnlyByTheirOwner) {
  Client alice = ClientWith(alice_token_);
  Client bob = ClientWith(CreateToken(v1::USER, {"bob"}));
  ASSERT_TRUE(alice.CreateModel("alice", "style", "public").ok());
  EXPECT_TRUE(bob.GetModel("alice/style").ok());
  EXPECT_TRUE(bob.ListVersions("alice/style").ok());
  v1::Dataset photos;
  ASSERT_TRUE(bob.Upload("bob-upload", ZipLikeBytes(300), &photos).ok());
  v1::Training training;
  grpc::Status status = bob.Train("alice/style", photos.name(), &training);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("acts for bob, not for alice"));
}

TEST_F(AuthTest, ATokenForSeveralOwnersActsForEach) {
  Client team = ClientWith(CreateToken(v1::USER, {"alice", "acme"}));
  EXPECT_TRUE(team.CreateModel("alice", "a").ok());
  EXPECT_TRUE(team.CreateModel("acme", "b").ok());
  EXPECT_EQ(team.CreateModel("bob", "c").error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(AuthTest, WorkerTokensRunTasksOnlyAndUserTokensCannotRunTasks) {
  Client worker = ClientWith(CreateToken(v1::WORKER, {}));
  EXPECT_TRUE(worker.RegisterWorker().ok());
  grpc::Status status = worker.GetModel("acme/sd");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  status = ClientWith(alice_token_).RegisterWorker();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("worker token"));
}

TEST_F(AuthTest, OnlyAdminsManageTokensAndImportBaseModels) {
  auto alice_tokens = v1::TokenService::NewStub(Channel(alice_token_));
  grpc::ClientContext context;
  v1::CreateTokenRequest request;
  request.add_owners("alice");
  v1::CreateTokenResponse response;
  EXPECT_EQ(alice_tokens->CreateToken(&context, request, &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  auto alice_models = v1::ModelService::NewStub(Channel(alice_token_));
  grpc::ClientContext import_context;
  v1::ImportBaseVersionRequest import;
  import.set_model("alice/base");
  import.set_diffusers_dir("/etc");
  v1::Version version;
  grpc::Status status = alice_models->ImportBaseVersion(&import_context, import, &version);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("admin token"));
}

TEST_F(AuthTest, BadTokenRequestsAreInvalidArguments) {
  grpc::ClientContext context;
  v1::CreateTokenRequest request;
  request.set_role(v1::USER);
  v1::CreateTokenResponse response;
  grpc::Status status = tokens_->CreateToken(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("at least one owner"));

  grpc::ClientContext bad_owner_context;
  request.add_owners("Not An Owner");
  status = tokens_->CreateToken(&bad_owner_context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("owner 'Not An Owner'"));
}

TEST_F(AuthTest, ARevokedTokenStopsWorkingAtOnce) {
  Client alice = ClientWith(alice_token_);
  ASSERT_TRUE(alice.GetModel("acme/sd").ok());  // now cached by the coordinator
  grpc::ClientContext context;
  v1::RevokeTokenRequest request;
  request.set_id(alice_.id());
  v1::Token revoked;
  ASSERT_TRUE(tokens_->RevokeToken(&context, request, &revoked).ok());
  EXPECT_TRUE(revoked.has_revoke_time());
  EXPECT_EQ(alice.GetModel("acme/sd").error_code(), grpc::StatusCode::UNAUTHENTICATED);

  grpc::ClientContext list_context;
  v1::ListTokensRequest list;
  v1::ListTokensResponse tokens;
  ASSERT_TRUE(tokens_->ListTokens(&list_context, list, &tokens).ok());
  for (const v1::Token& token : tokens.tokens()) EXPECT_NE(token.id(), alice_.id());
}

TEST_F(AuthTest, TokensAreStoredOnlyAsTheirSha256) {
  auto database = coordinator::Database::Open(data_dir_ / "data" / "easel.db");
  ASSERT_TRUE(database.ok()) << database.status();
  int secrets = 0, digests = 0;
  ASSERT_TRUE((*database)
                  ->Read([&](coordinator::Connection& connection) -> absl::Status {
                    auto row = connection.Query(
                        "SELECT id || role || owners || description || secret_sha256 "
                        "FROM tokens");
                    if (!row.ok()) return row.status();
                    while (*row->Step()) {
                      std::string text = row->Text(0);
                      if (text.find(alice_token_) != std::string::npos) ++secrets;
                      if (text.find(Sha256Hex(alice_token_)) != std::string::npos) ++digests;
                    }
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(secrets, 0);
  EXPECT_EQ(digests, 1);
}

TEST_F(AuthTest, TheAdminTokenFileIsKeptAcrossRestartsAndReplacedOnceRevoked) {
  std::string first = admin_token_;
  RestartServer();
  EXPECT_EQ(admin_token_, first);
  EXPECT_TRUE(ClientWith(first).GetModel("acme/sd").ok());

  grpc::ClientContext list_context;
  v1::ListTokensRequest list;
  v1::ListTokensResponse tokens;
  ASSERT_TRUE(tokens_->ListTokens(&list_context, list, &tokens).ok());
  for (const v1::Token& token : tokens.tokens()) {
    if (token.role() != v1::ADMIN) continue;
    grpc::ClientContext context;
    v1::RevokeTokenRequest request;
    request.set_id(token.id());
    v1::Token revoked;
    ASSERT_TRUE(tokens_->RevokeToken(&context, request, &revoked).ok());
  }
  RestartServer();
  EXPECT_NE(admin_token_, first);
  EXPECT_EQ(ClientWith(first).GetModel("acme/sd").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(ClientWith(admin_token_).GetModel("acme/sd").ok());
}

class TlsTest : public CoordinatorTest {
 protected:
  static std::filesystem::path TlsDir() { return EASEL_TLS_TEST_DIR; }
  void ConfigureServer(CoordinatorOptions& options) override {
    options.tls_cert_file = TlsDir() / "server.pem";
    options.tls_key_file = TlsDir() / "server.key";
  }
};

TEST_F(TlsTest, ServesOnlyClientsThatTrustItsCertificate) {
  std::string address = server_->address();  // 127.0.0.1, which the certificate names
  auto trusted = CreateClientChannel(
      address, ClientOptions{.token = admin_token_, .tls_ca_file = TlsDir() / "ca.pem"});
  ASSERT_TRUE(trusted.ok()) << trusted.status();
  Client over_tls(*trusted);
  EXPECT_TRUE(over_tls.GetModel("missing/model").error_code() == grpc::StatusCode::NOT_FOUND);

  // Neither a plaintext client nor one that does not trust the certificate gets an answer.
  Client plaintext(*CreateClientChannel(address, ClientOptions{.token = admin_token_}));
  EXPECT_THAT(plaintext.GetModel("missing/model").error_code(),
              AnyOf(grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::DEADLINE_EXCEEDED));
  auto untrusted = CreateClientChannel(
      address, ClientOptions{.token = admin_token_, .tls_ca_file = TlsDir() / "other-ca.pem"});
  ASSERT_TRUE(untrusted.ok());
  EXPECT_THAT(Client(*untrusted).GetModel("missing/model").error_code(),
              AnyOf(grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::DEADLINE_EXCEEDED));
}

TEST_F(TlsTest, AnUnreadableCaFileIsAnInvalidArgumentNamingIt) {
  auto channel = CreateClientChannel("localhost:1", ClientOptions{.tls_ca_file = "/nonexistent.pem"});
  EXPECT_EQ(channel.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(channel.status().message(), HasSubstr("/nonexistent.pem"));
}

}  // namespace
}  // namespace easel::testing

namespace easel::testing {
namespace {

class NoAuthTest : public CoordinatorTest {
 protected:
  void ConfigureServer(CoordinatorOptions& options) override { options.require_tokens = false; }
};

TEST_F(NoAuthTest, WithoutTokensEveryCallerIsAnAdmin) {
  auto anonymous = v1::ModelService::NewStub(Channel(""));
  grpc::ClientContext context;
  v1::CreateModelRequest request;
  request.set_owner("anyone");
  request.set_name("model");
  v1::Model model;
  grpc::Status status = anonymous->CreateModel(&context, request, &model);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(std::filesystem::exists(data_dir_ / "data" / "admin-token"));
}

}  // namespace
}  // namespace easel::testing
