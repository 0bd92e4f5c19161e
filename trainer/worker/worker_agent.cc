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

namespace {

bool IsGpu(const easel::v1::Device& device) { return device.kind() != "cpu"; }

}  // namespace

DeviceSlots::DeviceSlots(const std::vector<easel::v1::Device>& devices)
    : devices_(devices), held_(devices.size(), false) {
  capacity_ = std::max<int>(
      1, static_cast<int>(std::count_if(devices.begin(), devices.end(), IsGpu)));
}

std::vector<int32_t> DeviceSlots::IdlePositions() const {
  const bool has_gpu = std::any_of(devices_.begin(), devices_.end(), IsGpu);
  std::vector<int32_t> idle;
  for (size_t i = 0; i < devices_.size(); ++i) {
    // On a GPU host the CPU is not offered: a training leased onto it would crawl.
    if (held_[i] || (has_gpu && !IsGpu(devices_[i]))) continue;
    idle.push_back(static_cast<int32_t>(i));
  }
  return idle;
}

int DeviceSlots::Acquire(const easel::v1::Task& task) {
  ++running_;
  if (!task.has_device()) return -1;
  for (size_t i = 0; i < devices_.size(); ++i) {
    if (!held_[i] && devices_[i].kind() == task.device().kind() &&
        devices_[i].index() == task.device().index()) {
      held_[i] = true;
      return static_cast<int>(i);
    }
  }
  return -1;
}

void DeviceSlots::Release(int position) {
  --running_;
  if (position >= 0) held_[position] = false;
}

WorkerAgent::WorkerAgent(WorkerOptions options)
    : options_(std::move(options)), slots_(options_.devices) {
  stub_ = easel::v1::WorkerService::NewStub(options_.channel);
}

void WorkerAgent::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopping_.store(true);
  if (runner_) runner_->Shutdown();
  wake_.notify_all();
}

void WorkerAgent::Start(const easel::v1::Task& task) {
  int position;
  {
    std::lock_guard<std::mutex> lock(mu_);
    position = slots_.Acquire(task);
  }
  std::thread thread([this, task, position] {
    absl::Status ran = runner_->Run(task);
    std::fprintf(stderr, "easel-worker: task %s finished: %s\n", task.id().c_str(),
                 ran.ok() ? "reported" : std::string(ran.message()).c_str());
    std::lock_guard<std::mutex> lock(mu_);
    slots_.Release(position);
    finished_.push_back(std::this_thread::get_id());
    wake_.notify_all();
  });
  std::thread::id id = thread.get_id();
  threads_.emplace(id, std::move(thread));
}

void WorkerAgent::JoinFinished() {
  std::vector<std::thread::id> finished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    finished.swap(finished_);
  }
  for (std::thread::id id : finished) {
    threads_[id].join();
    threads_.erase(id);
  }
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
  int failures = 0;
  int tasks_run = 0;
  while (!stopping_.load()) {
    std::vector<int32_t> idle;
    {
      // Lease only with room for another task; wait for one to end otherwise.
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stopping_.load() || slots_.HasRoom(); });
      if (stopping_.load()) break;
      idle = slots_.IdlePositions();
    }
    JoinFinished();
    if (worker_id_.empty()) {
      absl::Status registered = Register();
      if (!registered.ok()) {
        if (failures == 0) std::fprintf(stderr, "easel-worker: %s; retrying\n",
                                        std::string(registered.message()).c_str());
        Backoff(++failures);
        continue;
      }
      failures = 0;
      std::lock_guard<std::mutex> lock(mu_);
      // After registering: the runner heartbeats as often as the coordinator asked.
      if (runner_ == nullptr) runner_ = std::make_unique<TaskRunner>(stub_.get(), options_.runner);
    }
    easel::v1::LeaseTaskRequest request;
    request.set_worker_id(worker_id_);
    request.mutable_wait()->set_seconds(10);
    for (int32_t position : idle) request.add_idle_devices(position);
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
    const std::string placed =
        task.has_device() ? absl::StrCat(" on ", task.device().kind(), ":", task.device().index())
                          : "";
    std::fprintf(stderr,
                 "easel-worker: leased task %s (training %s, attempt %d, epoch %lld)%s\n",
                 task.id().c_str(), task.training_id().c_str(), task.attempt(),
                 static_cast<long long>(task.epoch()), placed.c_str());
    Start(task);
    if (options_.max_tasks > 0 && ++tasks_run >= options_.max_tasks) break;
  }
  {
    std::unique_lock<std::mutex> lock(mu_);  // Stop() has stopped their children
    wake_.wait(lock, [&] { return slots_.running() == 0; });
  }
  JoinFinished();
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
