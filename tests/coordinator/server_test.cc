#include <condition_variable>
#include <mutex>
#include <string>

#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"
#include "gtest/gtest.h"
#include "tests/coordinator/coordinator_fixture.h"

namespace easel::testing {
namespace {

using ServerTest = CoordinatorTest;

TEST_F(ServerTest, ServesTheStandardHealthCheck) {
  auto channel = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  grpc::Slice empty("");  // HealthCheckRequest{service: ""} is empty on the wire.
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  grpc::Status status;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                 &response, [&](grpc::Status result) {
                   std::lock_guard<std::mutex> lock(mutex);
                   status = result;
                   done = true;
                   done_cv.notify_all();
                 });
  std::unique_lock<std::mutex> lock(mutex);
  done_cv.wait(lock, [&] { return done; });
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));  // status: SERVING
}

TEST_F(ServerTest, RestartRebuildsStateFromTheStore) {
  PrepareTrainingInputs();
  v1::Training training;
  ASSERT_TRUE(CreateTraining(TrainingRequest(), &training).ok());
  std::string worker = RegisterWorker();

  RestartServer();

  v1::Training reloaded = GetTraining(training.id());
  EXPECT_EQ(reloaded.status(), v1::STARTING);
  EXPECT_EQ(reloaded.input().fields().at("seed").number_value(),
            training.input().fields().at("seed").number_value());
  v1::Task task = LeaseTask(worker, absl::Seconds(5)).task();
  EXPECT_EQ(task.training_id(), training.id());
  EXPECT_EQ(task.epoch(), 1);
}

TEST(ServerStartTest, ReportsAnAddressItCannotListenOn) {
  std::filesystem::path dir = MakeTempDir();
  CoordinatorOptions options;
  options.data_dir = dir;
  options.listen_address = "256.0.0.1:1";
  auto server = CoordinatorServer::Start(options);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kUnavailable);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace easel::testing
