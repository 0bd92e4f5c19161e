#include "trainer/worker/worker_agent.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"
#include "trainer/worker/child_process.h"

namespace easel::worker {

WorkerAgent::WorkerAgent(WorkerOptions options) : options_(std::move(options)) {
  auto channel = grpc::CreateChannel(options_.coordinator, grpc::InsecureChannelCredentials());
  stub_ = easel::v1::WorkerService::NewStub(channel);
}

void WorkerAgent::Stop() {
  stopping_.store(true);
  if (runner_) runner_->Shutdown();
  wake_.notify_all();
}

void WorkerAgent::Backoff(int failures) {
  const int delay_ms = std::min(5000, 100 << std::min(failures, 6));
  std::unique_lock<std::mutex> lock(mu_);
  wake_.wait_for(lock, std::chrono::milliseconds(delay_ms), [&] { return stopping_.load(); });
}

absl::Status WorkerAgent::Register() {
  easel::v1::RegisterWorkerRequest request;
  request.set_name(options_.name);
  for (const auto& device : options_.devices) *request.add_devices() = device;
  easel::v1::RegisterWorkerResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status status = stub_->RegisterWorker(&context, request, &response);
  if (!status.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot register with ", options_.coordinator, ": ", status.error_message()));
  }
  worker_id_ = response.worker_id();
  if (response.has_heartbeat_interval() && response.heartbeat_interval().seconds() +
                                                   response.heartbeat_interval().nanos() >
                                               0) {
    options_.runner.heartbeat_interval =
        absl::Seconds(response.heartbeat_interval().seconds()) +
        absl::Nanoseconds(response.heartbeat_interval().nanos());
  }
  std::fprintf(stderr, "easel-worker: registered as %s with %s (%d device(s))\n",
               worker_id_.c_str(), options_.coordinator.c_str(),
               static_cast<int>(options_.devices.size()));
  return absl::OkStatus();
}

absl::Status WorkerAgent::Run() {
  runner_ = std::make_unique<TaskRunner>(stub_.get(), options_.runner);
  int failures = 0;
  int tasks_run = 0;
  while (!stopping_.load()) {
    if (worker_id_.empty()) {
      absl::Status registered = Register();
      if (!registered.ok()) {
        if (failures == 0) std::fprintf(stderr, "easel-worker: %s; retrying\n",
                                        std::string(registered.message()).c_str());
        Backoff(++failures);
        continue;
      }
      failures = 0;
    }
    easel::v1::LeaseTaskRequest request;
    request.set_worker_id(worker_id_);
    request.mutable_wait()->set_seconds(10);
    easel::v1::LeaseTaskResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(40));
    grpc::Status status = stub_->LeaseTask(&context, request, &response);
    if (!status.ok()) {
      if (status.error_code() == grpc::StatusCode::NOT_FOUND) worker_id_.clear();
      Backoff(++failures);
      continue;
    }
    failures = 0;
    if (!response.has_task()) continue;
    const easel::v1::Task& task = response.task();
    std::fprintf(stderr, "easel-worker: leased task %s (training %s, attempt %d, epoch %lld)\n",
                 task.id().c_str(), task.training_id().c_str(), task.attempt(),
                 static_cast<long long>(task.epoch()));
    absl::Status ran = runner_->Run(task);
    std::fprintf(stderr, "easel-worker: task %s finished: %s\n", task.id().c_str(),
                 ran.ok() ? "reported" : std::string(ran.message()).c_str());
    if (options_.max_tasks > 0 && ++tasks_run >= options_.max_tasks) break;
  }
  return absl::OkStatus();
}

std::vector<easel::v1::Device> DetectDevices(const std::filesystem::path& trainer_bin) {
  std::vector<easel::v1::Device> devices;
  easel::v1::Device cpu;
  cpu.set_kind("cpu");
  cpu.set_index(0);
  cpu.set_memory_bytes(static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE));
  cpu.set_name(absl::StrCat(sysconf(_SC_NPROCESSORS_ONLN), " cores"));
  devices.push_back(cpu);

  auto child = ChildProcess::Start({trainer_bin.string(), "devices"});
  if (!child.ok()) return devices;
  std::string lines;
  ChildOutput output;
  output.on_stdout_line = [&](std::string_view line) { lines.append(line).push_back('\n'); };
  if (!(*child)->Wait(output).success()) return devices;
  auto report = nlohmann::json::parse(lines, nullptr, /*allow_exceptions=*/false);
  if (!report.is_object() || !report.contains("devices")) return devices;
  for (const auto& entry : report["devices"]) {
    if (entry.value("kind", "") != "cuda") continue;
    easel::v1::Device device;
    device.set_kind("cuda");
    device.set_index(entry.value("index", 0));
    device.set_memory_bytes(entry.value("memory_bytes", int64_t{0}));
    device.set_name(entry.value("name", ""));
    devices.push_back(device);
  }
  return devices;
}

}  // namespace easel::worker
