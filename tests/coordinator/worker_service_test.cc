#include <string>
#include <thread>
#include <vector>

#include "common/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/coordinator/coordinator_fixture.h"

namespace easel::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class WorkerServiceTest : public CoordinatorTest {
 protected:
  void SetUp() override {
    CoordinatorTest::SetUp();
    PrepareTrainingInputs();
  }

  v1::Training NewTraining() {
    v1::Training training;
    grpc::Status status = CreateTraining(TrainingRequest(), &training);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return training;
  }

  grpc::Status Complete(const v1::Task& task, const v1::OutputRef& weights,
                        v1::CompleteTaskResponse* response) {
    grpc::ClientContext context;
    v1::CompleteTaskRequest request;
    request.set_task_id(task.id());
    request.set_epoch(task.epoch());
    *request.mutable_weights() = weights;
    request.set_weights_format("diffusers-lora");
    request.add_trigger_tokens("sks");
    return workers_->CompleteTask(&context, request, response);
  }

  grpc::Status CompletePreprocess(const v1::Task& task, const std::string& prepared_bytes) {
    v1::CompleteTaskRequest request;
    request.set_task_id(task.id());
    request.set_epoch(task.epoch());
    grpc::Status uploaded = UploadOutput(task, prepared_bytes, request.mutable_prepared_dataset());
    if (!uploaded.ok()) return uploaded;
    grpc::ClientContext context;
    v1::CompleteTaskResponse response;
    grpc::Status status = workers_->CompleteTask(&context, request, &response);
    EXPECT_FALSE(response.has_version());
    return status;
  }

  grpc::Status Report(const v1::Task& task, int step, const std::string& log,
                      v1::ReportProgressResponse* response) {
    grpc::ClientContext context;
    v1::ReportProgressRequest request;
    request.set_task_id(task.id());
    request.set_epoch(task.epoch());
    v1::Progress* progress = request.add_progress();
    progress->set_phase("train");
    progress->set_step(step);
    progress->set_total(10);
    progress->set_loss(0.5);
    request.add_logs()->set_text(log);
    return workers_->ReportProgress(&context, request, response);
  }

  grpc::Status ReportDataset(const v1::Task& task, const v1::DatasetReport& report,
                             v1::ReportDatasetResponse* response = nullptr) {
    grpc::ClientContext context;
    v1::ReportDatasetRequest request;
    request.set_task_id(task.id());
    request.set_epoch(task.epoch());
    *request.mutable_report() = report;
    v1::ReportDatasetResponse ignored;
    return workers_->ReportDataset(&context, request, response != nullptr ? response : &ignored);
  }

  struct DeviceSpec {
    const char* kind;
    int index;
    int64_t memory_bytes;
  };
  std::string RegisterWorkerWithDevices(const std::string& name,
                                        const std::vector<DeviceSpec>& devices) {
    grpc::ClientContext context;
    v1::RegisterWorkerRequest request;
    request.set_name(name);
    for (const DeviceSpec& spec : devices) {
      v1::Device* device = request.add_devices();
      device->set_kind(spec.kind);
      device->set_index(spec.index);
      device->set_memory_bytes(spec.memory_bytes);
    }
    v1::RegisterWorkerResponse response;
    EXPECT_TRUE(workers_->RegisterWorker(&context, request, &response).ok());
    return response.worker_id();
  }

  // Uploads `bytes` as a checkpoint of `step` and reports it.
  grpc::Status ReportCheckpoint(const v1::Task& task, const std::string& bytes, int64_t step,
                                v1::ReportCheckpointResponse* response = nullptr) {
    v1::ReportCheckpointRequest request;
    request.set_task_id(task.id());
    request.set_epoch(task.epoch());
    request.set_step(step);
    grpc::Status uploaded = UploadOutput(task, bytes, request.mutable_checkpoint());
    if (!uploaded.ok()) return uploaded;
    grpc::ClientContext context;
    v1::ReportCheckpointResponse ignored;
    return workers_->ReportCheckpoint(&context, request,
                                      response != nullptr ? response : &ignored);
  }

  // Preprocesses a new training and leases its TRAIN task.
  v1::Task LeaseTrainTask(const std::string& worker) {
    v1::Task preprocess = LeaseTask(worker, absl::Seconds(5)).task();
    EXPECT_TRUE(CompletePreprocess(preprocess, "prepared zip").ok());
    v1::Task task = LeaseTask(worker, absl::Seconds(5)).task();
    EXPECT_EQ(task.kind(), v1::TASK_KIND_TRAIN);
    return task;
  }

  // Two images used, notes.txt skipped, one warning.
  static v1::DatasetReport SampleReport() {
    v1::DatasetReport report;
    report.set_images_used(2);
    report.set_images_skipped(1);
    report.set_warning_count(1);
    for (const char* source : {"a.jpg", "b.png"}) {
      v1::DatasetImage* image = report.add_used();
      image->set_source(source);
      image->set_caption(std::string("a photo of sks, ") + source);
      image->set_caption_source("caption.csv");
    }
    v1::SkippedFile* skipped = report.add_skipped();
    skipped->set_source("notes.txt");
    skipped->set_reason("not an image: unsupported file type .txt");
    report.add_warnings("caption.csv names missing.jpg, which is not in the archive");
    return report;
  }

  std::vector<v1::Version> Versions(const std::string& model) {
    grpc::ClientContext context;
    v1::ListVersionsRequest request;
    request.set_model(model);
    v1::ListVersionsResponse response;
    EXPECT_TRUE(models_->ListVersions(&context, request, &response).ok());
    return {response.versions().begin(), response.versions().end()};
  }
};

TEST_F(WorkerServiceTest, LeaseProgressCompletePublishesExactlyOneVersion) {
  v1::Training training = NewTraining();
  std::vector<v1::TrainingEvent> watched;
  grpc::Status watch_status;
  std::thread watcher([&] {
    grpc::ClientContext context;
    v1::WatchTrainingRequest request;
    request.set_id(training.id());
    auto reader = trainings_->WatchTraining(&context, request);
    v1::TrainingEvent event;
    while (reader->Read(&event)) watched.push_back(event);
    watch_status = reader->Finish();
  });

  std::string worker = RegisterWorker();
  v1::Task preprocess = LeaseTask(worker, absl::Seconds(5)).task();
  ASSERT_EQ(preprocess.training_id(), training.id());
  EXPECT_EQ(preprocess.kind(), v1::TASK_KIND_PREPROCESS);
  EXPECT_EQ("datasets/" + preprocess.dataset_sha256(), dataset_name_);
  EXPECT_TRUE(preprocess.prepared_dataset_sha256().empty());
  EXPECT_EQ(GetTraining(training.id()).status(), v1::PROCESSING);
  // Nothing else is queued until preprocessing completes.
  EXPECT_FALSE(LeaseTask(worker, absl::ZeroDuration()).has_task());
  ASSERT_TRUE(CompletePreprocess(preprocess, "prepared zip").ok());
  EXPECT_EQ(GetTraining(training.id()).prepared_dataset_sha256(), Sha256Hex("prepared zip"));

  v1::Task task = LeaseTask(worker, absl::Seconds(5)).task();
  ASSERT_EQ(task.training_id(), training.id());
  EXPECT_EQ(task.kind(), v1::TASK_KIND_TRAIN);
  EXPECT_NE(task.id(), preprocess.id());
  EXPECT_EQ(task.attempt(), 1);
  EXPECT_EQ(task.epoch(), 1);
  EXPECT_EQ(task.prepared_dataset_sha256(), Sha256Hex("prepared zip"));
  EXPECT_EQ("datasets/" + task.dataset_sha256(), dataset_name_);
  EXPECT_EQ(task.base_version(), "acme/sd:" + training.version());
  EXPECT_EQ(task.destination(), "alice/faces");
  EXPECT_THAT(task.base_model_dir(), HasSubstr("base-sd"));
  EXPECT_EQ(task.input().fields().at("token_string").string_value(), "sks");
  EXPECT_EQ(GetTraining(training.id()).status(), v1::PROCESSING);

  v1::ReportProgressResponse progress;
  ASSERT_TRUE(Report(task, 5, "step 5/10 loss 0.5", &progress).ok());
  EXPECT_TRUE(progress.commands().empty());

  std::string weights = "fake safetensors bytes";
  v1::OutputRef ref;
  grpc::Status status = UploadOutput(task, weights, &ref);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(ref.sha256(), Sha256Hex(weights));

  v1::CompleteTaskResponse completed;
  status = Complete(task, ref, &completed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(completed.version().model(), "alice/faces");
  EXPECT_THAT(completed.version().trigger_tokens(), ::testing::ElementsAre("sks"));
  EXPECT_EQ(completed.version().base_version(), "acme/sd:" + training.version());
  EXPECT_EQ(completed.version().training_id(), training.id());

  v1::CompleteTaskResponse again;
  status = Complete(task, ref, &again);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  std::vector<v1::Version> versions = Versions("alice/faces");
  ASSERT_EQ(versions.size(), 1u);
  EXPECT_EQ(versions[0].weights_digest(), Sha256Hex(weights));

  v1::Training done = GetTraining(training.id());
  EXPECT_EQ(done.status(), v1::SUCCEEDED);
  EXPECT_EQ(done.output().version(), "alice/faces:" + completed.version().id());
  EXPECT_EQ(done.output().weights_digest(), Sha256Hex(weights));
  EXPECT_THAT(done.logs(), HasSubstr("step 5/10 loss 0.5\n"));
  EXPECT_EQ(done.progress().step(), 5);

  watcher.join();
  EXPECT_TRUE(watch_status.ok()) << watch_status.error_message();
  ASSERT_GE(watched.size(), 4u);
  for (size_t i = 0; i < watched.size(); ++i) EXPECT_EQ(watched[i].sequence(), int64_t(i + 1));
  EXPECT_EQ(watched.front().status().status(), v1::STARTING);
  EXPECT_EQ(watched.back().status().status(), v1::SUCCEEDED);
  EXPECT_EQ(watched.back().training().output().version(), done.output().version());
  bool saw_progress = false, saw_log = false, saw_processing = false;
  for (const v1::TrainingEvent& event : watched) {
    saw_progress = saw_progress || (event.has_progress() && event.progress().step() == 5);
    saw_log = saw_log || (event.has_log() && event.log().text() == "step 5/10 loss 0.5");
    saw_processing = saw_processing ||
                     (event.has_status() && event.status().status() == v1::PROCESSING);
  }
  EXPECT_TRUE(saw_progress && saw_log && saw_processing);

  grpc::ClientContext download_context;
  v1::DownloadWeightsRequest download;
  download.set_model("alice/faces");
  auto reader = models_->DownloadWeights(&download_context, download);
  v1::WeightsChunk chunk;
  std::string downloaded, filename;
  while (reader->Read(&chunk)) {
    if (!chunk.filename().empty()) filename = chunk.filename();
    downloaded += chunk.data();
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(downloaded, weights);
  EXPECT_EQ(filename, "faces-" + completed.version().id() + ".safetensors");
}

TEST_F(WorkerServiceTest, SameArchiveAndPreprocessInputsReuseThePreparedDataset) {
  std::string worker = RegisterWorker();
  v1::Training first = NewTraining();
  v1::Task preprocess = LeaseTask(worker, absl::Seconds(5)).task();
  ASSERT_EQ(preprocess.kind(), v1::TASK_KIND_PREPROCESS);
  ASSERT_TRUE(ReportDataset(preprocess, SampleReport()).ok());
  ASSERT_TRUE(CompletePreprocess(preprocess, "prepared zip").ok());
  v1::Task first_train = LeaseTask(worker, absl::Seconds(5)).task();
  ASSERT_EQ(first_train.training_id(), first.id());
  ASSERT_EQ(first_train.kind(), v1::TASK_KIND_TRAIN);

  // Training inputs that do not change preprocessing (steps, seed) still reuse it, also after
  // a coordinator restart.
  RestartServer();
  v1::CreateTrainingRequest request = TrainingRequest();
  (*request.mutable_input()->mutable_fields())["max_train_steps"].set_number_value(20);
  (*request.mutable_input()->mutable_fields())["seed"].set_number_value(3);
  v1::Training second;
  ASSERT_TRUE(CreateTraining(request, &second).ok());
  EXPECT_EQ(second.prepared_dataset_sha256(), Sha256Hex("prepared zip"));
  EXPECT_EQ(second.dataset_report().SerializeAsString(), SampleReport().SerializeAsString());
  EXPECT_THAT(second.logs(), HasSubstr("reusing the prepared dataset of training " + first.id()));
  v1::Task second_train = LeaseTask(worker, absl::Seconds(5)).task();
  EXPECT_EQ(second_train.training_id(), second.id());
  EXPECT_EQ(second_train.kind(), v1::TASK_KIND_TRAIN);
  EXPECT_EQ(second_train.prepared_dataset_sha256(), Sha256Hex("prepared zip"));

  // A preprocessing input that differs, the resolution or the caption prefix, preprocesses
  // again.
  for (const char* field : {"resolution", "caption_prefix"}) {
    v1::CreateTrainingRequest changed = TrainingRequest();
    if (std::string(field) == "resolution") {
      (*changed.mutable_input()->mutable_fields())[field].set_number_value(768);
    } else {
      (*changed.mutable_input()->mutable_fields())[field].set_string_value("a sks painting");
    }
    v1::Training third;
    ASSERT_TRUE(CreateTraining(changed, &third).ok());
    EXPECT_TRUE(third.prepared_dataset_sha256().empty()) << field;
    v1::Task task = LeaseTask(worker, absl::Seconds(5)).task();
    EXPECT_EQ(task.training_id(), third.id()) << field;
    EXPECT_EQ(task.kind(), v1::TASK_KIND_PREPROCESS) << field;
    ASSERT_TRUE(FailTask(task, v1::USER_ERROR, "no images").ok());
  }
}

TEST_F(WorkerServiceTest, PreprocessCompletionNeedsTheUploadedPreparedDataset) {
  v1::Training training = NewTraining();
  std::string worker = RegisterWorker();
  v1::Task task = LeaseTask(worker, absl::Seconds(5)).task();
  grpc::ClientContext context;
  v1::CompleteTaskRequest request;
  request.set_task_id(task.id());
  request.set_epoch(task.epoch());
  request.mutable_prepared_dataset()->set_sha256(Sha256Hex("never uploaded"));
  v1::CompleteTaskResponse response;
  grpc::Status status = workers_->CompleteTask(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("prepared_dataset"));
  EXPECT_FALSE(LeaseTask(worker, absl::ZeroDuration()).has_task());
  EXPECT_TRUE(GetTraining(training.id()).prepared_dataset_sha256().empty());
}

TEST_F(WorkerServiceTest, CancelDuringPreprocessingQueuesNoTraining) {
  v1::Training training = NewTraining();
  std::string worker = RegisterWorker();
  v1::Task task = LeaseTask(worker, absl::Seconds(5)).task();
  grpc::ClientContext context;
  v1::CancelTrainingRequest cancel;
  cancel.set_id(training.id());
  v1::Training pending;
  ASSERT_TRUE(trainings_->CancelTraining(&context, cancel, &pending).ok());
  // The worker finished just as the cancel came: the dataset is kept, no training runs.
  ASSERT_TRUE(CompletePreprocess(task, "prepared zip").ok());
  EXPECT_EQ(GetTraining(training.id()).status(), v1::CANCELED);
  EXPECT_FALSE(LeaseTask(worker, absl::ZeroDuration()).has_task());
}

TEST_F(WorkerServiceTest, ARetriedTrainTaskResumesFromTheLatestReportedCheckpoint) {
  v1::Training training = NewTraining();
  std::string worker = RegisterWorker();
  v1::Task task = LeaseTrainTask(worker);
  EXPECT_TRUE(task.resume_checkpoint_sha256().empty());
  EXPECT_EQ(task.resume_checkpoint_step(), 0);

  ASSERT_TRUE(ReportCheckpoint(task, "checkpoint at 2", 2).ok());
  ASSERT_TRUE(ReportCheckpoint(task, "checkpoint at 4", 4).ok());
  // An older step reported late does not replace the newer checkpoint.
  ASSERT_TRUE(ReportCheckpoint(task, "checkpoint at 3", 3).ok());
  v1::Training checkpointed = GetTraining(training.id());
  EXPECT_EQ(checkpointed.checkpoint_step(), 4);
  EXPECT_EQ(checkpointed.checkpoint_sha256(), Sha256Hex("checkpoint at 4"));
  EXPECT_THAT(checkpointed.logs(), HasSubstr("checkpoint saved at step 4 ("));
  EXPECT_THAT(checkpointed.logs(), Not(HasSubstr("checkpoint saved at step 3")));

  ASSERT_TRUE(FailTask(task, v1::CRASH, "segfault").ok());
  v1::Task retried = LeaseTask(worker, absl::Seconds(5)).task();
  ASSERT_EQ(retried.id(), task.id());
  EXPECT_EQ(retried.attempt(), 2);
  EXPECT_EQ(retried.resume_checkpoint_step(), 4);
  EXPECT_EQ(retried.resume_checkpoint_sha256(), Sha256Hex("checkpoint at 4"));
  EXPECT_THAT(GetTraining(training.id()).logs(),
              HasSubstr("train attempt 2 leased to worker " + worker +
                        "; resuming from the checkpoint at step 4\n"));

  v1::CompleteTaskResponse completed;
  v1::OutputRef weights;
  ASSERT_TRUE(UploadOutput(retried, "weights", &weights).ok());
  ASSERT_TRUE(Complete(retried, weights, &completed).ok());
  EXPECT_EQ(Versions("alice/faces").size(), 1u);
}

TEST_F(WorkerServiceTest, BadCheckpointReportsAreRefused) {
  NewTraining();
  std::string worker = RegisterWorker();
  v1::Task preprocess = LeaseTask(worker, absl::Seconds(5)).task();
  grpc::Status status = ReportCheckpoint(preprocess, "checkpoint", 1);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("is not a TRAIN task"));
  ASSERT_TRUE(CompletePreprocess(preprocess, "prepared zip").ok());
  v1::Task task = LeaseTask(worker, absl::Seconds(5)).task();

  EXPECT_EQ(ReportCheckpoint(task, "checkpoint", 0).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  grpc::ClientContext context;
  v1::ReportCheckpointRequest request;
  request.set_task_id(task.id());
  request.set_epoch(task.epoch());
  request.set_step(5);
  request.mutable_checkpoint()->set_sha256(Sha256Hex("never uploaded"));
  v1::ReportCheckpointResponse response;
  status = workers_->ReportCheckpoint(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("has not been uploaded"));
}

TEST_F(WorkerServiceTest, OwnersTakeTurnsInsteadOfFirstComeFirstServed) {
  ASSERT_TRUE(CreateModel("bob", "cats").ok());
  std::vector<std::string> alice, bob;
  for (int i = 0; i < 3; ++i) alice.push_back(NewTraining().id());
  v1::CreateTrainingRequest request = TrainingRequest();
  request.set_destination("bob/cats");
  for (int i = 0; i < 2; ++i) {
    v1::Training training;
    ASSERT_TRUE(CreateTraining(request, &training).ok());
    bob.push_back(training.id());
  }
  std::string worker = RegisterWorker();
  std::vector<std::string> leased;
  for (int i = 0; i < 5; ++i) {
    leased.push_back(LeaseTask(worker, absl::Seconds(5)).task().training_id());
  }
  EXPECT_EQ(leased, (std::vector<std::string>{alice[0], bob[0], alice[1], bob[1], alice[2]}));
}

TEST_F(WorkerServiceTest, ATrainTaskGoesOnlyToADeviceWithTheMemoryItNeeds) {
  v1::Training training = NewTraining();
  const std::string big = RegisterWorkerWithDevices("big", {{"cuda", 0, int64_t{80} << 30}});
  const std::string small = RegisterWorkerWithDevices("small", {{"cuda", 0, int64_t{1} << 20}});
  // Preprocessing needs no device.
  v1::Task preprocess = LeaseTask(small, absl::Seconds(5)).task();
  ASSERT_TRUE(CompletePreprocess(preprocess, "prepared zip").ok());
  EXPECT_FALSE(LeaseTask(small, absl::ZeroDuration()).has_task());
  v1::Task task = LeaseTask(big, absl::Seconds(5)).task();
  ASSERT_EQ(task.training_id(), training.id());
  EXPECT_EQ(task.device().kind(), "cuda");
  EXPECT_GT(task.device_memory_need_bytes(), int64_t{1} << 20);
  EXPECT_LT(task.device_memory_need_bytes(), int64_t{80} << 30);
}

TEST_F(WorkerServiceTest, LeaseWaitsForATaskToArrive) {
  std::string worker = RegisterWorker();
  v1::LeaseTaskResponse leased;
  std::thread waiter([&] { leased = LeaseTask(worker, absl::Seconds(30)); });
  v1::Training training = NewTraining();
  waiter.join();
  EXPECT_EQ(leased.task().training_id(), training.id());
}

TEST_F(WorkerServiceTest, UserErrorFailsTheTraining) {
  v1::Training training = NewTraining();
  v1::Task task = LeaseTask(RegisterWorker(), absl::Seconds(5)).task();
  ASSERT_TRUE(FailTask(task, v1::USER_ERROR, "no faces found in the images").ok());
  v1::Training failed = GetTraining(training.id());
  EXPECT_EQ(failed.status(), v1::FAILED);
  EXPECT_EQ(failed.error(), "no faces found in the images");
  EXPECT_EQ(FailTask(task, v1::USER_ERROR, "again").error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(WorkerServiceTest, CrashesAreRetriedUpToMaxAttempts) {
  v1::Training training = NewTraining();
  std::string worker = RegisterWorker();
  v1::Task infra = LeaseTask(worker, absl::Seconds(5)).task();
  ASSERT_TRUE(FailTask(infra, v1::INFRASTRUCTURE, "preempted").ok());
  for (int crash = 1; crash <= 3; ++crash) {
    v1::Task task = LeaseTask(worker, absl::Seconds(5)).task();
    ASSERT_EQ(task.training_id(), training.id());
    EXPECT_EQ(task.attempt(), crash + 1);
    EXPECT_EQ(task.epoch(), crash + 1);
    ASSERT_TRUE(FailTask(task, v1::CRASH, "segfault " + std::to_string(crash)).ok());
    EXPECT_EQ(GetTraining(training.id()).status(), crash < 3 ? v1::PROCESSING : v1::FAILED);
  }
  EXPECT_EQ(GetTraining(training.id()).error(), "segfault 3");
  EXPECT_FALSE(LeaseTask(worker, absl::ZeroDuration()).has_task());
}

TEST_F(WorkerServiceTest, CancelOfALeasedTaskIsDeliveredAsACommand) {
  v1::Training training = NewTraining();
  v1::Task task = LeaseTask(RegisterWorker(), absl::Seconds(5)).task();
  grpc::ClientContext context;
  v1::CancelTrainingRequest cancel;
  cancel.set_id(training.id());
  v1::Training pending;
  ASSERT_TRUE(trainings_->CancelTraining(&context, cancel, &pending).ok());
  EXPECT_EQ(pending.status(), v1::PROCESSING);

  v1::HeartbeatResponse heartbeat;
  ASSERT_TRUE(Heartbeat(task, &heartbeat).ok());
  EXPECT_THAT(heartbeat.commands(), ::testing::ElementsAre(v1::CANCEL));
  v1::ReportProgressResponse progress;
  ASSERT_TRUE(Report(task, 1, "still going", &progress).ok());
  EXPECT_THAT(progress.commands(), ::testing::ElementsAre(v1::CANCEL));

  ASSERT_TRUE(FailTask(task, v1::CANCELED_BY_USER, "stopped").ok());
  EXPECT_EQ(GetTraining(training.id()).status(), v1::CANCELED);
}

// Heartbeats between store writes are answered from memory (they report the lease end the
// lease stored), and still refuse a wrong epoch, carry a cancel, and end with the task.
TEST_F(WorkerServiceTest, HeartbeatsAnsweredFromMemoryStillFenceAndCarryCancel) {
  v1::Training training = NewTraining();
  std::string worker = RegisterWorker();
  v1::Task task = LeaseTask(worker, absl::Seconds(5)).task();
  v1::HeartbeatResponse first, second, response;
  ASSERT_TRUE(Heartbeat(task, &first).ok());
  ASSERT_TRUE(Heartbeat(task, &second).ok());
  EXPECT_EQ(first.lease_expire_time().SerializeAsString(),
            task.lease_expire_time().SerializeAsString());
  EXPECT_EQ(second.lease_expire_time().SerializeAsString(),
            task.lease_expire_time().SerializeAsString());
  v1::Task wrong_epoch = task;
  wrong_epoch.set_epoch(task.epoch() + 1);
  EXPECT_EQ(Heartbeat(wrong_epoch, &response).error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  ASSERT_TRUE(CompletePreprocess(task, "prepared").ok());
  EXPECT_EQ(Heartbeat(task, &response).error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  v1::Task train = LeaseTask(worker, absl::Seconds(5)).task();
  ASSERT_TRUE(Heartbeat(train, &first).ok());
  ASSERT_TRUE(Heartbeat(train, &second).ok());
  EXPECT_TRUE(second.commands().empty());
  grpc::ClientContext context;
  v1::CancelTrainingRequest cancel;
  cancel.set_id(training.id());
  v1::Training pending;
  ASSERT_TRUE(trainings_->CancelTraining(&context, cancel, &pending).ok());
  ASSERT_TRUE(Heartbeat(train, &response).ok());
  EXPECT_THAT(response.commands(), ::testing::ElementsAre(v1::CANCEL));
  ASSERT_TRUE(Heartbeat(train, &response).ok());
  EXPECT_THAT(response.commands(), ::testing::ElementsAre(v1::CANCEL));
  ASSERT_TRUE(FailTask(train, v1::CANCELED_BY_USER, "stopped").ok());
  EXPECT_EQ(Heartbeat(train, &response).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(WorkerServiceTest, BadWorkerRequestsAreRejectedAndTheServerKeepsServing) {
  grpc::ClientContext context;
  v1::LeaseTaskRequest lease;
  lease.set_worker_id("nosuchworker");
  v1::LeaseTaskResponse leased;
  EXPECT_EQ(workers_->LeaseTask(&context, lease, &leased).error_code(),
            grpc::StatusCode::NOT_FOUND);

  v1::Task ghost;
  ghost.set_id("nosuchtask");
  ghost.set_epoch(1);
  v1::HeartbeatResponse heartbeat;
  grpc::Status status = Heartbeat(ghost, &heartbeat);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("stale lease"));
  EXPECT_EQ(FailTask(ghost, v1::FAILURE_CLASS_UNSPECIFIED, "x").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  v1::Training training = NewTraining();
  v1::Task task = LeaseTask(RegisterWorker(), absl::Seconds(5)).task();
  v1::CompleteTaskResponse completed;
  v1::OutputRef missing;
  missing.set_sha256(Sha256Hex("never uploaded"));
  status = Complete(task, missing, &completed);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("UploadOutput"));

  // Workers fetch datasets by digest, from any offset.
  grpc::ClientContext download_context;
  v1::DownloadBlobRequest download;
  download.set_sha256(task.dataset_sha256());
  download.set_offset(4);
  auto reader = workers_->DownloadBlob(&download_context, download);
  v1::BlobChunk chunk;
  std::string tail;
  while (reader->Read(&chunk)) tail += chunk.data();
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(tail, ZipLikeBytes(1000).substr(4));
  EXPECT_EQ(GetTraining(training.id()).status(), v1::PROCESSING);
}

TEST_F(WorkerServiceTest, DatasetReportIsStoredAndReturnedInFullByGetTrainingOnly) {
  v1::Training training = NewTraining();
  v1::Task task = LeaseTask(RegisterWorker(), absl::Seconds(5)).task();
  EXPECT_FALSE(GetTraining(training.id()).has_dataset_report());

  v1::DatasetReport first = SampleReport();
  first.mutable_skipped(0)->set_reason("an earlier attempt's reason");
  ASSERT_TRUE(ReportDataset(task, first).ok());
  // A second report of the same lease replaces the first.
  const v1::DatasetReport report = SampleReport();
  grpc::Status status = ReportDataset(task, report);
  ASSERT_TRUE(status.ok()) << status.error_message();

  v1::Training got = GetTraining(training.id());
  ASSERT_TRUE(got.has_dataset_report());
  EXPECT_EQ(got.dataset_report().SerializeAsString(), report.SerializeAsString());
  EXPECT_THAT(got.logs(), HasSubstr("dataset: 2 images used, 1 skipped, 1 warning\n"));

  // The list carries the counts only.
  grpc::ClientContext list_context;
  v1::ListTrainingsRequest list;
  v1::ListTrainingsResponse listed;
  ASSERT_TRUE(trainings_->ListTrainings(&list_context, list, &listed).ok());
  ASSERT_EQ(listed.trainings_size(), 1);
  const v1::DatasetReport& summary = listed.trainings(0).dataset_report();
  EXPECT_EQ(summary.images_used(), 2);
  EXPECT_EQ(summary.images_skipped(), 1);
  EXPECT_EQ(summary.warning_count(), 1);
  EXPECT_EQ(summary.used_size() + summary.skipped_size() + summary.warnings_size(), 0);

  // It outlives the training's end (and its status event carries the counts only) and a
  // coordinator restart.
  ASSERT_TRUE(FailTask(task, v1::USER_ERROR, "no faces found in the images").ok());
  grpc::ClientContext watch_context;
  v1::WatchTrainingRequest watch;
  watch.set_id(training.id());
  auto reader = trainings_->WatchTraining(&watch_context, watch);
  v1::TrainingEvent last;
  for (v1::TrainingEvent event; reader->Read(&event);) last = event;
  ASSERT_TRUE(reader->Finish().ok());
  ASSERT_EQ(last.status().status(), v1::FAILED);
  EXPECT_EQ(last.training().dataset_report().images_skipped(), 1);
  EXPECT_EQ(last.training().dataset_report().skipped_size(), 0);

  RestartServer();
  v1::Training restarted = GetTraining(training.id());
  EXPECT_EQ(restarted.status(), v1::FAILED);
  EXPECT_EQ(restarted.error(), "no faces found in the images");
  EXPECT_EQ(restarted.dataset_report().SerializeAsString(), report.SerializeAsString());

  // The task has ended: its epoch no longer writes.
  status = ReportDataset(task, report);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("stale lease"));
}

TEST_F(WorkerServiceTest, DatasetReportCarriesTheCancelCommand) {
  v1::Training training = NewTraining();
  v1::Task task = LeaseTask(RegisterWorker(), absl::Seconds(5)).task();
  grpc::ClientContext context;
  v1::CancelTrainingRequest cancel;
  cancel.set_id(training.id());
  v1::Training pending;
  ASSERT_TRUE(trainings_->CancelTraining(&context, cancel, &pending).ok());
  v1::ReportDatasetResponse response;
  ASSERT_TRUE(ReportDataset(task, SampleReport(), &response).ok());
  EXPECT_THAT(response.commands(), ::testing::ElementsAre(v1::CANCEL));
}

TEST_F(WorkerServiceTest, OversizedOrInconsistentDatasetReportsAreInvalidArguments) {
  v1::Training training = NewTraining();
  v1::Task task = LeaseTask(RegisterWorker(), absl::Seconds(5)).task();

  // At the limits: accepted.
  v1::DatasetReport full;
  full.set_images_used(20'000);
  full.set_images_skipped(10'000);
  full.set_warning_count(1'000);
  for (int i = 0; i < 10'000; ++i) {
    full.add_used()->set_source("u" + std::to_string(i) + ".jpg");
    full.add_skipped()->set_source("s" + std::to_string(i) + ".txt");
  }
  for (int i = 0; i < 1'000; ++i) full.add_warnings("w" + std::to_string(i));
  grpc::Status status = ReportDataset(task, full);
  ASSERT_TRUE(status.ok()) << status.error_message();

  v1::DatasetReport too_many_skipped = full;
  too_many_skipped.set_images_skipped(10'001);
  too_many_skipped.add_skipped()->set_source("one-too-many.txt");
  status = ReportDataset(task, too_many_skipped);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("skipped holds 10001 entries; at most 10000"));

  v1::DatasetReport too_many_used = full;
  too_many_used.add_used()->set_source("one-too-many.jpg");
  EXPECT_EQ(ReportDataset(task, too_many_used).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::DatasetReport too_many_warnings = full;
  too_many_warnings.set_warning_count(1'001);
  too_many_warnings.add_warnings("one too many");
  status = ReportDataset(task, too_many_warnings);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("at most 1000"));

  v1::DatasetReport too_big;
  too_big.set_images_skipped(3);
  for (int i = 0; i < 3; ++i) {
    v1::SkippedFile* file = too_big.add_skipped();
    file->set_source("big.txt");
    file->set_reason(std::string(1 << 20, 'r'));
  }
  status = ReportDataset(task, too_big);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("at most 2097152"));

  v1::DatasetReport short_count = SampleReport();
  short_count.set_images_used(1);
  status = ReportDataset(task, short_count);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("count of used (1)"));

  v1::ReportDatasetRequest empty;
  empty.set_task_id(task.id());
  empty.set_epoch(task.epoch());
  grpc::ClientContext context;
  v1::ReportDatasetResponse response;
  EXPECT_EQ(workers_->ReportDataset(&context, empty, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // The rejected reports left the accepted one in place.
  v1::Training got = GetTraining(training.id());
  EXPECT_EQ(got.dataset_report().skipped_size(), 10'000);
  EXPECT_EQ(got.dataset_report().used_size(), 10'000);
  EXPECT_EQ(got.dataset_report().images_used(), 20'000);
}

class RetryBackoffTest : public WorkerServiceTest {
 protected:
  absl::Duration RetryBackoff() const override { return absl::Seconds(1); }
};

TEST_F(RetryBackoffTest, ARetriedTaskWaitsOutItsBackOffDoublingPerAttempt) {
  v1::Training training = NewTraining();
  std::string worker = RegisterWorker();
  v1::Task first = LeaseTask(worker, absl::Seconds(5)).task();
  ASSERT_TRUE(FailTask(first, v1::CRASH, "segfault").ok());
  EXPECT_FALSE(LeaseTask(worker, absl::ZeroDuration()).has_task());
  v1::Task second = LeaseTask(worker, absl::Seconds(10)).task();
  EXPECT_EQ(second.id(), first.id());
  EXPECT_EQ(second.attempt(), 2);
  ASSERT_TRUE(FailTask(second, v1::INFRASTRUCTURE, "preempted").ok());
  EXPECT_FALSE(LeaseTask(worker, absl::ZeroDuration()).has_task());
  v1::Task third = LeaseTask(worker, absl::Seconds(10)).task();
  EXPECT_EQ(third.attempt(), 3);
  const std::string logs = GetTraining(training.id()).logs();
  EXPECT_THAT(logs, HasSubstr("attempt 1 failed (crash): segfault; retrying in 1s\n"));
  EXPECT_THAT(logs, HasSubstr("attempt 2 failed (infrastructure): preempted; retrying in 2s\n"));
}

class ShortLeaseTest : public WorkerServiceTest {
 protected:
  absl::Duration LeaseDuration() const override { return absl::Milliseconds(300); }
};

TEST_F(ShortLeaseTest, StaleEpochIsRejectedAfterTheLeaseExpiresAndTheTaskIsLeasedAgain) {
  v1::Training training = NewTraining();
  v1::Task first = LeaseTask(RegisterWorker("a"), absl::Seconds(5)).task();
  ASSERT_EQ(first.epoch(), 1);
  // Worker b waits until the expiry thread requeues the task.
  v1::Task second = LeaseTask(RegisterWorker("b"), absl::Seconds(30)).task();
  ASSERT_EQ(second.id(), first.id());
  EXPECT_EQ(second.epoch(), 2);
  EXPECT_EQ(second.attempt(), 2);

  v1::HeartbeatResponse heartbeat;
  grpc::Status status = Heartbeat(first, &heartbeat);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("stale lease"));
  v1::ReportProgressResponse progress;
  EXPECT_EQ(Report(first, 1, "late", &progress).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  v1::OutputRef ref;
  EXPECT_EQ(UploadOutput(first, "late weights", &ref).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(FailTask(first, v1::USER_ERROR, "late").error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  status = ReportDataset(first, SampleReport());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("stale lease"));
  {
    grpc::ClientContext context;
    v1::ReportCheckpointRequest request;
    request.set_task_id(first.id());
    request.set_epoch(first.epoch());
    request.set_step(1);
    request.mutable_checkpoint()->set_sha256(Sha256Hex("prepared zip"));
    v1::ReportCheckpointResponse response;
    status = workers_->ReportCheckpoint(&context, request, &response);
  }
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("stale lease"));
  EXPECT_THAT(status.error_message(), HasSubstr("stale lease"));
  EXPECT_FALSE(GetTraining(training.id()).has_dataset_report());

  v1::Training current = GetTraining(training.id());
  EXPECT_EQ(current.status(), v1::PROCESSING);
  EXPECT_THAT(current.logs(), HasSubstr("expired; requeued"));
}

}  // namespace
}  // namespace easel::testing
