#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/coordinator/coordinator_fixture.h"

namespace easel::testing {
namespace {

using ::testing::HasSubstr;

using ModelServiceTest = CoordinatorTest;

TEST_F(ModelServiceTest, CreateValidatesNamesAndRejectsDuplicates) {
  v1::Model model;
  ASSERT_TRUE(CreateModel("alice", "faces", &model).ok());
  EXPECT_EQ(model.visibility(), "private");
  EXPECT_EQ(model.version_count(), 0);

  grpc::Status status = CreateModel("alice", "faces");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  status = CreateModel("Alice", "faces");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("owner"));
  status = CreateModel("alice", "-faces");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("name"));
}

TEST_F(ModelServiceTest, ListModelsPages) {
  for (const char* name : {"a", "b", "c"}) ASSERT_TRUE(CreateModel("bob", name).ok());
  ASSERT_TRUE(CreateModel("carol", "d").ok());
  v1::ListModelsRequest request;
  request.set_owner("bob");
  request.set_page_size(2);
  std::vector<std::string> names;
  do {
    grpc::ClientContext context;
    v1::ListModelsResponse response;
    ASSERT_TRUE(models_->ListModels(&context, request, &response).ok());
    for (const v1::Model& model : response.models()) names.push_back(model.name());
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  EXPECT_THAT(names, ::testing::ElementsAre("a", "b", "c"));
}

TEST_F(ModelServiceTest, ImportBaseVersionCreatesTheModelAndChecksTheDirectory) {
  v1::Version first = ImportBase("acme/sd");
  EXPECT_EQ(first.weights_format(), "diffusers-directory");
  EXPECT_FALSE(first.base_model_dir().empty());
  v1::Version second = ImportBase("acme/sd");

  grpc::ClientContext context;
  v1::ListVersionsRequest list;
  list.set_model("acme/sd");
  v1::ListVersionsResponse versions;
  ASSERT_TRUE(models_->ListVersions(&context, list, &versions).ok());
  ASSERT_EQ(versions.versions_size(), 2);
  EXPECT_EQ(versions.versions(0).id(), second.id());
  EXPECT_EQ(versions.versions(1).id(), first.id());

  grpc::ClientContext latest_context;
  v1::GetVersionRequest get;
  get.set_model("acme/sd");
  v1::Version latest;
  ASSERT_TRUE(models_->GetVersion(&latest_context, get, &latest).ok());
  EXPECT_EQ(latest.id(), second.id());

  for (const std::string& dir : {std::string("relative/dir"), data_dir_.string()}) {
    grpc::ClientContext bad_context;
    v1::ImportBaseVersionRequest bad;
    bad.set_model("acme/sd");
    bad.set_diffusers_dir(dir);
    v1::Version ignored;
    grpc::Status status = models_->ImportBaseVersion(&bad_context, bad, &ignored);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("diffusers_dir"));
  }
}

TEST_F(ModelServiceTest, GetVersionNamesWhatIsMissing) {
  ImportBase("acme/sd");
  grpc::ClientContext context;
  v1::GetVersionRequest request;
  request.set_model("acme/sd");
  request.set_version_id("nosuchversion");
  v1::Version version;
  grpc::Status status = models_->GetVersion(&context, request, &version);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("nosuchversion"));

  grpc::ClientContext model_context;
  request.set_model("acme/missing");
  request.clear_version_id();
  status = models_->GetVersion(&model_context, request, &version);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("acme/missing"));
}

TEST_F(ModelServiceTest, DownloadWeightsOfABaseVersionIsAFailedPrecondition) {
  ImportBase("acme/sd");
  grpc::ClientContext context;
  v1::DownloadWeightsRequest request;
  request.set_model("acme/sd");
  auto reader = models_->DownloadWeights(&context, request);
  v1::WeightsChunk chunk;
  while (reader->Read(&chunk)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

}  // namespace
}  // namespace easel::testing
