#include "trainer/worker/task_runner.h"

#include <condition_variable>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"
#include "trainer/worker/child_process.h"
#include "trainer/worker/dataset_report.h"
#include "trainer/worker/prepared_archive.h"
#include "trainer/worker/task_spec.h"

namespace easel::worker {
namespace {

using easel::v1::FailureClass;
using easel::v1::WorkerCommand;

constexpr size_t kChunkBytes = 1 << 20;
constexpr size_t kStderrTailLines = 20;
constexpr absl::Duration kCoordinatorOutage = absl::Minutes(10);
// easel-trainer's exit status when SIGTERM or SIGINT stopped it (after saving a checkpoint).
constexpr int kTrainerInterrupted = 3;

absl::Status FromGrpc(const grpc::Status& status, const std::string& what) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
}

void SetDeadline(grpc::ClientContext& context, absl::Duration timeout) {
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)));
}

absl::Status DownloadBlob(easel::v1::WorkerService::Stub* stub, const std::string& sha256,
                          const std::filesystem::path& path, const std::string& what) {
  grpc::ClientContext context;
  easel::v1::DownloadBlobRequest request;
  request.set_sha256(sha256);
  auto reader = stub->DownloadBlob(&context, request);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  Sha256 digest;
  easel::v1::BlobChunk chunk;
  while (reader->Read(&chunk)) {
    out.write(chunk.data().data(), static_cast<std::streamsize>(chunk.data().size()));
    digest.Update(chunk.data());
  }
  EASEL_RETURN_IF_ERROR(FromGrpc(reader->Finish(), absl::StrCat("downloading ", what, " ", sha256)));
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("write error in ", path.string()));
  std::string actual = digest.Hex();
  if (actual != sha256) {
    return absl::DataLossError(
        absl::StrCat(what, " download corrupted: expected sha256 ", sha256, ", got ", actual));
  }
  return absl::OkStatus();
}

absl::StatusOr<easel::v1::OutputRef> UploadOutput(easel::v1::WorkerService::Stub* stub,
                                                  const easel::v1::Task& task,
                                                  const std::filesystem::path& path) {
  EASEL_ASSIGN_OR_RETURN(std::string sha256, Sha256OfFile(path));
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  if (error) return absl::InternalError(absl::StrCat(path.string(), ": ", error.message()));

  grpc::ClientContext context;
  easel::v1::OutputRef ref;
  auto writer = stub->UploadOutput(&context, &ref);
  easel::v1::UploadOutputRequest header;
  header.mutable_header()->set_task_id(task.id());
  header.mutable_header()->set_epoch(task.epoch());
  header.mutable_header()->set_name(path.filename().string());
  header.mutable_header()->set_size_bytes(static_cast<int64_t>(size));
  header.mutable_header()->set_sha256(sha256);
  bool open = writer->Write(header);
  std::ifstream in(path, std::ios::binary);
  std::string buffer(kChunkBytes, '\0');
  while (open && in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() == 0) break;
    easel::v1::UploadOutputRequest chunk;
    chunk.set_data(buffer.data(), static_cast<size_t>(in.gcount()));
    open = writer->Write(chunk);
  }
  writer->WritesDone();
  EASEL_RETURN_IF_ERROR(FromGrpc(writer->Finish(), absl::StrCat("uploading ", path.string())));
  return ref;
}

// Calls `call` again while the coordinator is unreachable (UNAVAILABLE, DEADLINE_EXCEEDED),
// with a growing pause, for up to kCoordinatorOutage or until the worker shuts down: a
// coordinator restart must not lose a finished task's result.
template <typename Call>
absl::Status RetryWhileUnreachable(const std::atomic<bool>& shutdown, Call call) {
  const absl::Time give_up = absl::Now() + kCoordinatorOutage;
  absl::Duration pause = absl::Milliseconds(250);
  while (true) {
    absl::Status status = call();
    const bool unreachable = status.code() == absl::StatusCode::kUnavailable ||
                             status.code() == absl::StatusCode::kDeadlineExceeded;
    if (!unreachable || shutdown.load() || absl::Now() + pause > give_up) return status;
    absl::SleepFor(pause);
    pause = std::min(pause * 2, absl::Seconds(5));
  }
}

// What a child said about itself on stdout.
struct ChildReport {
  std::string error_message;
  std::string error_class;
  nlohmann::json done;
  std::vector<std::string> stderr_tail;
};

// One leased task's conversation with the coordinator: heartbeats, batched progress and logs,
// and the commands that come back. Stops the child on cancel, staleness or shutdown.
class LeaseSession {
 public:
  LeaseSession(easel::v1::WorkerService::Stub* stub, const easel::v1::Task& task,
               const RunnerOptions& options, const std::atomic<bool>& shutdown)
      : stub_(stub), task_(task), options_(options), shutdown_(shutdown) {
    heartbeat_ = std::thread([this] { HeartbeatLoop(); });
  }

  ~LeaseSession() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      finished_ = true;
    }
    wake_.notify_all();
    heartbeat_.join();
  }

  bool canceled() const { return canceled_.load(); }
  bool stale() const { return stale_.load(); }
  bool shutting_down() const { return shutdown_.load(); }
  const std::atomic<bool>& shutdown_flag() const { return shutdown_; }
  bool should_stop() const { return canceled() || stale() || shutting_down(); }

  // `checkpoint_zip`: where checkpoints the child announces are packed before they are
  // uploaded (empty: the child writes none).
  ExitStatus RunChild(const std::vector<std::string>& argv, const std::string& phase,
                      ChildReport* report, absl::Status* start_error,
                      const std::filesystem::path& checkpoint_zip = {},
                      const std::vector<std::string>& environment = {}) {
    checkpoint_zip_ = checkpoint_zip;
    Log(absl::StrCat("running ", absl::StrJoin(environment, " "), environment.empty() ? "" : " ",
                     absl::StrJoin(argv, " ")));
    auto child = ChildProcess::Start(argv, environment);
    if (!child.ok()) {
      *start_error = child.status();
      return ExitStatus{};
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      child_ = child->get();
    }
    if (should_stop()) (*child)->Stop(options_.stop_grace);
    ChildOutput output;
    output.on_stdout_line = [&](std::string_view line) { OnChildEvent(line, phase, report); };
    output.on_stderr_line = [&](std::string_view line) {
      report->stderr_tail.emplace_back(line);
      if (report->stderr_tail.size() > kStderrTailLines) {
        report->stderr_tail.erase(report->stderr_tail.begin());
      }
      Log(std::string(line));
    };
    output.on_tick = [&] { Flush(); };
    ExitStatus status = (*child)->Wait(output);
    {
      std::lock_guard<std::mutex> lock(mu_);
      child_ = nullptr;
    }
    Flush();
    return status;
  }

  void Log(std::string text) { pending_.add_logs()->set_text(std::move(text)); }

  void Flush() {
    if (pending_.progress_size() == 0 && pending_.logs_size() == 0) return;
    if (stale()) return;
    pending_.set_task_id(task_.id());
    pending_.set_epoch(task_.epoch());
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(30));
    easel::v1::ReportProgressResponse response;
    grpc::Status status = stub_->ReportProgress(&context, pending_, &response);
    if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
      MarkStale(status.error_message());
    } else if (status.ok()) {
      pending_.Clear();
      HandleCommands(response.commands());
    }
    // Other errors: keep the batch and try again on the next tick.
  }

  // Sends the prepared dataset's inclusion report to the coordinator. A report that cannot be
  // read or stored is logged and does not stop the task; a stale lease marks the session
  // stale.
  void ReportDataset(const std::filesystem::path& manifest) {
    absl::StatusOr<easel::v1::DatasetReport> report = ReadDatasetReport(manifest);
    if (!report.ok()) {
      Log(absl::StrCat("no dataset report: ", report.status().message()));
      return;
    }
    Flush();  // the preprocess logs come first
    if (stale()) return;
    easel::v1::ReportDatasetRequest request;
    request.set_task_id(task_.id());
    request.set_epoch(task_.epoch());
    *request.mutable_report() = std::move(*report);
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(30));
    easel::v1::ReportDatasetResponse response;
    grpc::Status status = stub_->ReportDataset(&context, request, &response);
    if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
      MarkStale(status.error_message());
    } else if (status.ok()) {
      HandleCommands(response.commands());
    } else {
      Log(absl::StrCat("the coordinator did not store the dataset report: ",
                       status.error_message()));
    }
  }

 private:
  void OnChildEvent(std::string_view line, const std::string& phase, ChildReport* report) {
    auto event = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!event.is_object() || !event.contains("event")) {
      Log(std::string(line));
      return;
    }
    const std::string kind = event.value("event", "");
    if (kind == "progress") {
      easel::v1::Progress* progress = pending_.add_progress();
      progress->set_phase(phase);
      progress->set_step(event.value("step", 0));
      progress->set_total(event.value("total", 0));
      progress->set_loss(event.value("loss", 0.0));
      progress->set_learning_rate(event.value("lr", 0.0));
      progress->set_iterations_per_second(event.value("it_s", 0.0));
      progress->set_eta_seconds(event.value("eta_s", 0.0));
      if (event.contains("message")) Log(event.value("message", ""));
    } else if (kind == "log") {
      Log(event.value("message", ""));
    } else if (kind == "error") {
      report->error_message = event.value("message", "");
      report->error_class = event.value("class", "");
      Log(absl::StrCat(phase, " error: ", report->error_message));
    } else if (kind == "done") {
      report->done = event;
    } else if (kind == "checkpoint" && !checkpoint_zip_.empty()) {
      UploadCheckpoint(event.value("path", ""), event.value("step", int64_t{0}));
    }
  }

  // Packs and uploads a checkpoint the child finished and records it as the training's latest.
  // A failure is logged and training goes on: the previous checkpoint still holds.
  void UploadCheckpoint(const std::string& path, int64_t step) {
    if (canceled() || stale() || path.empty() || step <= 0) return;
    Flush();
    absl::Status status = [&]() -> absl::Status {
      EASEL_RETURN_IF_ERROR(PackDirectory(path, checkpoint_zip_));
      easel::v1::ReportCheckpointRequest request;
      EASEL_ASSIGN_OR_RETURN(*request.mutable_checkpoint(),
                             UploadOutput(stub_, task_, checkpoint_zip_));
      request.set_task_id(task_.id());
      request.set_epoch(task_.epoch());
      request.set_step(step);
      grpc::ClientContext context;
      SetDeadline(context, absl::Seconds(30));
      easel::v1::ReportCheckpointResponse response;
      EASEL_RETURN_IF_ERROR(
          FromGrpc(stub_->ReportCheckpoint(&context, request, &response), "ReportCheckpoint"));
      HandleCommands(response.commands());
      return absl::OkStatus();
    }();
    std::error_code error;
    std::filesystem::remove(checkpoint_zip_, error);
    if (status.code() == absl::StatusCode::kFailedPrecondition &&
        absl::StrContains(status.message(), "stale lease")) {
      MarkStale(std::string(status.message()));
    } else if (!status.ok()) {
      Log(absl::StrCat("the checkpoint at step ", step, " was not saved: ", status.message()));
    }
  }

  void HandleCommands(const google::protobuf::RepeatedField<int>& commands) {
    for (int command : commands) {
      if (command == easel::v1::CANCEL && !canceled_.exchange(true)) StopChild();
    }
  }

  void MarkStale(const std::string& why) {
    if (!stale_.exchange(true)) {
      std::fprintf(stderr, "easel-worker: lease of task %s lost (%s); stopping it\n",
                   task_.id().c_str(), why.c_str());
      StopChild();
    }
  }

  void StopChild() {
    std::lock_guard<std::mutex> lock(mu_);
    if (child_ != nullptr) child_->Stop(options_.stop_grace);
  }

  void HeartbeatLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!finished_) {
      wake_.wait_for(lock, std::chrono::milliseconds(
                               absl::ToInt64Milliseconds(options_.heartbeat_interval)));
      if (finished_) break;
      if (shutdown_.load() && child_ != nullptr) child_->Stop(options_.stop_grace);
      lock.unlock();
      SendHeartbeat();
      lock.lock();
    }
  }

  void SendHeartbeat() {
    easel::v1::HeartbeatRequest request;
    request.set_task_id(task_.id());
    request.set_epoch(task_.epoch());
    easel::v1::HeartbeatResponse response;
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    grpc::Status status = stub_->Heartbeat(&context, request, &response);
    if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
      MarkStale(status.error_message());
    } else if (status.ok()) {
      HandleCommands(response.commands());
    }
  }

  easel::v1::WorkerService::Stub* stub_;
  const easel::v1::Task& task_;
  const RunnerOptions& options_;
  const std::atomic<bool>& shutdown_;
  easel::v1::ReportProgressRequest pending_;  // touched by the task thread only
  std::filesystem::path checkpoint_zip_;       // likewise
  std::atomic<bool> canceled_{false};
  std::atomic<bool> stale_{false};
  std::mutex mu_;
  std::condition_variable wake_;
  bool finished_ = false;
  ChildProcess* child_ = nullptr;
  std::thread heartbeat_;
};

std::string DescribeChildFailure(const std::string& what, const ExitStatus& exit,
                                 const ChildReport& report) {
  std::string message = report.error_message;
  if (message.empty() && !report.stderr_tail.empty()) message = report.stderr_tail.back();
  if (message.empty()) message = "no error message";
  return absl::StrCat(what, " failed (", exit.Describe(), "): ", message);
}

absl::Status Fail(easel::v1::WorkerService::Stub* stub, const std::atomic<bool>& shutdown,
                  const easel::v1::Task& task, FailureClass failure_class,
                  const std::string& error, int exit_status) {
  easel::v1::FailTaskRequest request;
  request.set_task_id(task.id());
  request.set_epoch(task.epoch());
  request.set_failure_class(failure_class);
  request.set_error(error);
  request.set_exit_status(exit_status);
  return RetryWhileUnreachable(shutdown, [&] {
    easel::v1::FailTaskResponse response;
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(30));
    return FromGrpc(stub->FailTask(&context, request, &response), "FailTask");
  });
}

// The outcome of a child that did not succeed, reported to the coordinator; nullopt when it
// succeeded and the task goes on.
std::optional<absl::Status> EndUnlessSucceeded(easel::v1::WorkerService::Stub* stub,
                                               const easel::v1::Task& task,
                                               const LeaseSession& session, const ExitStatus& exit,
                                               const absl::Status& start_error,
                                               const std::string& what, const ChildReport& report) {
  if (session.stale()) return absl::OkStatus();  // another worker owns the task now
  if (session.canceled()) {
    return Fail(stub, session.shutdown_flag(), task, easel::v1::CANCELED_BY_USER,
                "canceled by the user", exit.code);
  }
  if (session.shutting_down()) {
    return Fail(stub, session.shutdown_flag(), task, easel::v1::INFRASTRUCTURE,
                "the worker shut down", exit.code);
  }
  if (!start_error.ok()) {
    return Fail(stub, session.shutdown_flag(), task, easel::v1::INFRASTRUCTURE,
                std::string(start_error.message()), 0);
  }
  if (exit.exited && exit.code == kTrainerInterrupted) {
    // Stopped by a signal from outside (a preemption): retried without counting.
    return Fail(stub, session.shutdown_flag(), task, easel::v1::INFRASTRUCTURE,
                DescribeChildFailure(what, exit, report), exit.code);
  }
  if (!exit.success()) {
    const bool user_error = exit.exited && exit.code == 2;
    return Fail(
        stub, session.shutdown_flag(), task, user_error ? easel::v1::USER_ERROR : easel::v1::CRASH,
        DescribeChildFailure(what, exit, report), exit.exited ? exit.code : 128 + exit.signal);
  }
  return std::nullopt;
}

// Uploads an output; nullopt on success (with `ref` set), else the task's outcome.
std::optional<absl::Status> UploadOrEnd(easel::v1::WorkerService::Stub* stub,
                                        const std::atomic<bool>& shutdown,
                                        const easel::v1::Task& task,
                                        const std::filesystem::path& path,
                                        easel::v1::OutputRef* ref) {
  absl::StatusOr<easel::v1::OutputRef> uploaded;
  (void)RetryWhileUnreachable(shutdown, [&] {
    uploaded = UploadOutput(stub, task, path);
    return uploaded.status();
  });
  if (uploaded.ok()) {
    *ref = *std::move(uploaded);
    return std::nullopt;
  }
  if (uploaded.status().code() == absl::StatusCode::kFailedPrecondition) {
    return absl::OkStatus();  // stale lease
  }
  return Fail(stub, shutdown, task, easel::v1::INFRASTRUCTURE,
              std::string(uploaded.status().message()), 0);
}

absl::Status Complete(easel::v1::WorkerService::Stub* stub, const std::atomic<bool>& shutdown,
                      const easel::v1::CompleteTaskRequest& complete) {
  return RetryWhileUnreachable(shutdown, [&] {
    easel::v1::CompleteTaskResponse response;
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(60));
    return FromGrpc(stub->CompleteTask(&context, complete, &response), "CompleteTask");
  });
}

// Downloads and unpacks the checkpoint the task resumes from; an empty path (logged) when the
// checkpoint is damaged and training starts over.
absl::StatusOr<std::filesystem::path> FetchCheckpoint(easel::v1::WorkerService::Stub* stub,
                                                      const easel::v1::Task& task,
                                                      const std::filesystem::path& dir,
                                                      LeaseSession& session) {
  const auto packed = dir / "resume.zip";
  EASEL_RETURN_IF_ERROR(
      DownloadBlob(stub, task.resume_checkpoint_sha256(), packed, "checkpoint"));
  const auto unpacked =
      dir / "resume" / absl::StrFormat("step-%08d", task.resume_checkpoint_step());
  absl::Status status = UnpackCheckpoint(packed, unpacked);
  std::error_code error;
  std::filesystem::remove(packed, error);
  if (!status.ok()) {
    session.Log(absl::StrCat("the checkpoint at step ", task.resume_checkpoint_step(),
                             " cannot be used (", status.message(),
                             "); training starts from the beginning"));
    return std::filesystem::path();
  }
  return unpacked;
}

}  // namespace

TaskRunner::TaskRunner(easel::v1::WorkerService::Stub* stub, RunnerOptions options)
    : stub_(stub), options_(std::move(options)) {}

void TaskRunner::Shutdown() { shutdown_.store(true); }

absl::Status TaskRunner::Run(const easel::v1::Task& task) {
  const std::filesystem::path dir =
      options_.work_dir / absl::StrCat(task.id(), "-", task.attempt());
  std::error_code error;
  std::filesystem::remove_all(dir, error);
  std::filesystem::create_directories(dir, error);
  if (error) return absl::InternalError(absl::StrCat("cannot create ", dir.string()));

  absl::Status result = task.kind() == easel::v1::TASK_KIND_PREPROCESS ? Preprocess(task, dir)
                                                                       : Train(task, dir);
  if (!options_.keep_work_dirs) std::filesystem::remove_all(dir, error);
  return result;
}

absl::Status TaskRunner::Preprocess(const easel::v1::Task& task, const std::filesystem::path& dir) {
  auto spec = MakeTaskSpec(task);
  if (!spec.ok()) {
    return Fail(stub_, shutdown_, task, easel::v1::USER_ERROR, std::string(spec.status().message()),
                0);
  }
  LeaseSession session(stub_, task, options_, shutdown_);
  const auto archive = dir / "dataset.zip";
  if (absl::Status download = DownloadBlob(stub_, task.dataset_sha256(), archive, "dataset");
      !download.ok()) {
    return Fail(stub_, shutdown_, task, easel::v1::INFRASTRUCTURE, std::string(download.message()),
                0);
  }
  const auto prepared = dir / "prepared";
  ChildReport report;
  absl::Status start_error;
  ExitStatus exit =
      session.RunChild(PreprocessArgs(*spec, options_.preprocess_bin, archive, prepared),
                       "preprocess", &report, &start_error);
  if (auto ended =
          EndUnlessSucceeded(stub_, task, session, exit, start_error, "preprocessing", report)) {
    return *ended;
  }
  session.ReportDataset(prepared / "manifest.json");
  if (session.stale()) return absl::OkStatus();

  const auto packed = dir / "prepared.zip";
  if (absl::Status pack = PackDirectory(prepared, packed); !pack.ok()) {
    return Fail(stub_, shutdown_, task, easel::v1::INFRASTRUCTURE, std::string(pack.message()), 0);
  }
  easel::v1::CompleteTaskRequest complete;
  if (auto ended =
          UploadOrEnd(stub_, shutdown_, task, packed, complete.mutable_prepared_dataset())) {
    return *ended;
  }
  complete.set_task_id(task.id());
  complete.set_epoch(task.epoch());
  return Complete(stub_, shutdown_, complete);
}

absl::Status TaskRunner::Train(const easel::v1::Task& task, const std::filesystem::path& dir) {
  auto spec = MakeTaskSpec(task);
  if (!spec.ok()) {
    return Fail(stub_, shutdown_, task, easel::v1::USER_ERROR, std::string(spec.status().message()),
                0);
  }
  if (task.prepared_dataset_sha256().empty()) {
    return Fail(stub_, shutdown_, task, easel::v1::CRASH,
                "the TRAIN task names no prepared dataset", 0);
  }
  LeaseSession session(stub_, task, options_, shutdown_);
  const auto packed = dir / "prepared.zip";
  if (absl::Status download =
          DownloadBlob(stub_, task.prepared_dataset_sha256(), packed, "prepared dataset");
      !download.ok()) {
    return Fail(stub_, shutdown_, task, easel::v1::INFRASTRUCTURE, std::string(download.message()),
                0);
  }
  const auto prepared = dir / "prepared";
  if (absl::Status unpack = UnpackPreparedDataset(packed, prepared); !unpack.ok()) {
    return Fail(stub_, shutdown_, task, easel::v1::CRASH, std::string(unpack.message()), 0);
  }
  {
    std::ofstream spec_file(dir / "spec.json");
    spec_file << spec->trainer_spec.dump(2) << "\n";
  }
  TrainerPaths paths{.spec_file = dir / "spec.json",
                     .dataset = prepared,
                     .model = task.base_model_dir(),
                     .output = dir / "output",
                     .checkpoints = dir / "checkpoints"};
  if (!task.resume_checkpoint_sha256().empty()) {
    absl::StatusOr<std::filesystem::path> resume = FetchCheckpoint(stub_, task, dir, session);
    if (!resume.ok()) {
      return Fail(stub_, shutdown_, task, easel::v1::INFRASTRUCTURE,
                  std::string(resume.status().message()), 0);
    }
    paths.resume = *resume;
  }
  // The coordinator placed the task on one device: a GPU is the only one the trainer sees.
  std::vector<std::string> environment;
  if (task.device().kind() == "cuda") {
    paths.device = "cuda";
    environment.push_back(absl::StrCat("CUDA_VISIBLE_DEVICES=", task.device().index()));
  }
  ChildReport report;
  absl::Status start_error;
  ExitStatus exit = session.RunChild(TrainerArgs(options_.trainer_bin, paths), "train", &report,
                                     &start_error, dir / "checkpoint-upload.zip", environment);
  if (auto ended = EndUnlessSucceeded(stub_, task, session, exit, start_error, "training",
                                      report)) {
    return *ended;
  }

  easel::v1::CompleteTaskRequest complete;
  const std::string weights_name = report.done.value("weights", "lora.safetensors");
  if (auto ended = UploadOrEnd(stub_, shutdown_, task, dir / "output" / weights_name,
                               complete.mutable_weights())) {
    return *ended;
  }
  complete.set_task_id(task.id());
  complete.set_epoch(task.epoch());
  complete.set_weights_format(report.done.value("format", "diffusers-lora"));
  if (report.done.contains("trigger_tokens") && report.done["trigger_tokens"].is_array()) {
    for (const auto& token : report.done["trigger_tokens"]) {
      if (token.is_string()) complete.add_trigger_tokens(token.get<std::string>());
    }
  }
  std::ifstream result_file(dir / "output" / "result.json");
  std::string result_text((std::istreambuf_iterator<char>(result_file)),
                          std::istreambuf_iterator<char>());
  if (!result_text.empty()) {
    (void)google::protobuf::util::JsonStringToMessage(result_text, complete.mutable_result());
  }
  return Complete(stub_, shutdown_, complete);
}

}  // namespace easel::worker
