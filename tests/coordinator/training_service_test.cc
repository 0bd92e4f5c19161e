#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/coordinator/coordinator_fixture.h"

namespace easel::testing {
namespace {

using ::testing::HasSubstr;

class TrainingServiceTest : public CoordinatorTest {
 protected:
  void SetUp() override {
    CoordinatorTest::SetUp();
    PrepareTrainingInputs();
  }

  void ExpectInvalidInput(const std::string& field, const google::protobuf::Value& value,
                          const std::string& named) {
    v1::CreateTrainingRequest request = TrainingRequest();
    (*request.mutable_input()->mutable_fields())[field] = value;
    v1::Training training;
    grpc::Status status = CreateTraining(request, &training);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_THAT(status.error_message(), HasSubstr(named));
  }

  std::vector<v1::TrainingEvent> WatchAll(const std::string& id, int64_t after = 0) {
    grpc::ClientContext context;
    v1::WatchTrainingRequest request;
    request.set_id(id);
    request.set_after_sequence(after);
    auto reader = trainings_->WatchTraining(&context, request);
    std::vector<v1::TrainingEvent> events;
    v1::TrainingEvent event;
    while (reader->Read(&event)) events.push_back(event);
    grpc::Status status = reader->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    return events;
  }

  grpc::Status Cancel(const std::string& id, v1::Training* training) {
    grpc::ClientContext context;
    v1::CancelTrainingRequest request;
    request.set_id(id);
    return trainings_->CancelTraining(&context, request, training);
  }
};

TEST_F(TrainingServiceTest, CreatesAStartingTrainingWithFilledInput) {
  v1::Training training;
  grpc::Status status = CreateTraining(TrainingRequest(), &training);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(training.status(), v1::STARTING);
  EXPECT_EQ(training.model(), "acme/sd");
  EXPECT_EQ(training.destination(), "alice/faces");
  EXPECT_FALSE(training.version().empty());
  const auto& input = training.input().fields();
  EXPECT_EQ(input.at("caption_prefix").string_value(), "a photo of sks");
  EXPECT_EQ(input.at("max_train_steps").number_value(), 10);
  EXPECT_TRUE(input.contains("seed"));
  EXPECT_EQ(GetTraining(training.id()).input().fields().at("seed").number_value(),
            input.at("seed").number_value());
}

TEST_F(TrainingServiceTest, UnknownBaseModelIsNotFound) {
  v1::CreateTrainingRequest request = TrainingRequest();
  request.set_model("acme/nope");
  v1::Training training;
  grpc::Status status = CreateTraining(request, &training);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "base model acme/nope not found");
}

TEST_F(TrainingServiceTest, UnknownDestinationIsNotFoundAndSaysHowToCreateIt) {
  v1::CreateTrainingRequest request = TrainingRequest();
  request.set_destination("alice/missing");
  v1::Training training;
  grpc::Status status = CreateTraining(request, &training);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("destination model alice/missing not found"));
  EXPECT_THAT(status.error_message(), HasSubstr("easel models create alice/missing"));
}

TEST_F(TrainingServiceTest, UnknownVersionIsNotFound) {
  v1::CreateTrainingRequest request = TrainingRequest();
  request.set_version("nosuchversion");
  v1::Training training;
  grpc::Status status = CreateTraining(request, &training);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("nosuchversion"));
}

TEST_F(TrainingServiceTest, BadInputsAreInvalidArgumentsNamingTheField) {
  google::protobuf::Value value;
  value.set_number_value(-3);
  ExpectInvalidInput("max_train_steps", value, "max_train_steps");
  value.set_string_value("lots");
  ExpectInvalidInput("lora_rank", value, "lora_rank");
  value.set_number_value(1);
  ExpectInvalidInput("not_an_input", value, "not_an_input");

  v1::Training training;
  ASSERT_TRUE(CreateTraining(TrainingRequest(), &training).ok());  // Still serving.
}

TEST_F(TrainingServiceTest, RepeatedRequestIdReturnsTheFirstTraining) {
  v1::CreateTrainingRequest request = TrainingRequest();
  request.set_request_id("req-1");
  v1::Training first, second;
  ASSERT_TRUE(CreateTraining(request, &first).ok());
  ASSERT_TRUE(CreateTraining(request, &second).ok());
  EXPECT_EQ(first.id(), second.id());
  EXPECT_EQ(second.request_id(), "req-1");

  grpc::ClientContext context;
  v1::ListTrainingsResponse list;
  ASSERT_TRUE(trainings_->ListTrainings(&context, v1::ListTrainingsRequest(), &list).ok());
  EXPECT_EQ(list.trainings_size(), 1);
}

TEST_F(TrainingServiceTest, ListIsNewestFirstAndPages) {
  std::vector<std::string> created;
  for (int i = 0; i < 3; ++i) {
    v1::Training training;
    ASSERT_TRUE(CreateTraining(TrainingRequest(), &training).ok());
    created.insert(created.begin(), training.id());
  }
  v1::ListTrainingsRequest request;
  request.set_page_size(2);
  std::vector<std::string> listed;
  do {
    grpc::ClientContext context;
    v1::ListTrainingsResponse response;
    ASSERT_TRUE(trainings_->ListTrainings(&context, request, &response).ok());
    for (const v1::Training& training : response.trainings()) listed.push_back(training.id());
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  EXPECT_EQ(listed, created);
}

TEST_F(TrainingServiceTest, CancelQueuedThenCancelFinished) {
  v1::Training training;
  ASSERT_TRUE(CreateTraining(TrainingRequest(), &training).ok());
  v1::Training canceled;
  ASSERT_TRUE(Cancel(training.id(), &canceled).ok());
  EXPECT_EQ(canceled.status(), v1::CANCELED);
  EXPECT_TRUE(canceled.has_complete_time());

  grpc::Status status = Cancel(training.id(), &canceled);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("already finished"));

  // The canceled task is never leased.
  std::string worker = RegisterWorker();
  EXPECT_FALSE(LeaseTask(worker, absl::ZeroDuration()).has_task());

  status = Cancel("nosuchtraining", &canceled);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(TrainingServiceTest, WatchOfAFinishedTrainingReplaysItsEventsAndEnds) {
  v1::Training training;
  ASSERT_TRUE(CreateTraining(TrainingRequest(), &training).ok());
  v1::Training canceled;
  ASSERT_TRUE(Cancel(training.id(), &canceled).ok());
  std::vector<v1::TrainingEvent> events = WatchAll(training.id());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].sequence(), 1);
  EXPECT_EQ(events[0].status().status(), v1::STARTING);
  EXPECT_EQ(events[1].sequence(), 2);
  EXPECT_EQ(events[1].status().status(), v1::CANCELED);
  EXPECT_EQ(events[1].training().status(), v1::CANCELED);

  EXPECT_EQ(WatchAll(training.id(), 1).size(), 1u);
  EXPECT_TRUE(WatchAll(training.id(), 2).empty());
}

}  // namespace
}  // namespace easel::testing
