// easel-scheduler-load: one real coordinator on loopback, many simulated workers whose
// "trainer" sleeps and reports progress, many trainings. Reports lease assignments per second,
// call latencies, the coordinator's CPU time and peak RSS, and checks that every training
// succeeded exactly once with exactly one version. A benchmark, not a test: it prints PASS or
// MISS against the targets and writes a Markdown report.

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/client_channel.h"
#include "common/sha256.h"
#include "easel/v1/datasets.grpc.pb.h"
#include "easel/v1/models.grpc.pb.h"
#include "easel/v1/trainings.grpc.pb.h"
#include "easel/v1/worker.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"
#include "tests/testing/server_process.h"

namespace easel {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string coordinator_bin;
  int workers = 1000;
  int trainings = 10000;
  double task_seconds = 2.0;
  double report_seconds = 0.5;  // heartbeat and progress interval while a task "runs"
  int channels = 16;
  std::string report;
};

// Latencies of one kind of call, in milliseconds.
class Latencies {
 public:
  void Add(Clock::duration elapsed) {
    const double ms = std::chrono::duration<double, std::milli>(elapsed).count();
    std::lock_guard<std::mutex> lock(mu_);
    samples_.push_back(ms);
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return samples_.size();
  }
  double Percentile(double p) {
    std::lock_guard<std::mutex> lock(mu_);
    if (samples_.empty()) return 0;
    std::sort(samples_.begin(), samples_.end());
    const size_t index = std::min(samples_.size() - 1,
                                  static_cast<size_t>(p / 100.0 * static_cast<double>(samples_.size())));
    return samples_[index];
  }

 private:
  std::mutex mu_;
  std::vector<double> samples_;
};

struct Stats {
  Latencies lease, heartbeat, progress, complete;
  std::atomic<int64_t> assignments{0};
  std::atomic<int64_t> errors{0};
  std::atomic<int64_t> completed_train{0};
  std::mutex times_mu;
  std::vector<double> lease_times;  // seconds since start of each assignment
};

// The coordinator process's CPU seconds (user + system) and peak RSS in bytes.
struct ProcessUsage {
  double cpu_seconds = 0;
  int64_t peak_rss_bytes = 0;
};

ProcessUsage Usage(pid_t pid) {
  ProcessUsage usage;
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  std::getline(stat, line);
  std::istringstream fields(line.substr(line.rfind(')') + 2));
  std::string field;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) usage.cpu_seconds += std::stod(field) / sysconf(_SC_CLK_TCK);
  }
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) usage.peak_rss_bytes = std::stoll(line.substr(6)) * 1024;
  }
  return usage;
}

std::string CpuModel() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

void Check(const grpc::Status& status, const char* what) {
  if (!status.ok()) {
    std::fprintf(stderr, "easel-scheduler-load: %s failed: %s\n", what,
                 status.error_message().c_str());
    std::exit(1);
  }
}

// One simulated worker: leases tasks until `done`, "runs" each by sleeping while it sends
// heartbeats and progress, uploads a stand-in output and completes the task.
void RunWorker(int index, v1::WorkerService::Stub* stub, const Options& options, Stats& stats,
               Clock::time_point start, const std::atomic<bool>& done) {
  v1::RegisterWorkerRequest registration;
  registration.set_name(absl::StrCat("sim-", index));
  v1::Device* device = registration.add_devices();
  device->set_kind("cpu");
  device->set_memory_bytes(int64_t{64} << 30);
  v1::RegisterWorkerResponse registered;
  {
    grpc::ClientContext context;
    Check(stub->RegisterWorker(&context, registration, &registered), "RegisterWorker");
  }
  const std::string output_bytes = absl::StrCat("stand-in output of worker ", index);
  const std::string output_sha = Sha256Hex(output_bytes);
  while (!done.load()) {
    v1::LeaseTaskRequest request;
    request.set_worker_id(registered.worker_id());
    request.mutable_wait()->set_seconds(1);
    v1::LeaseTaskResponse leased;
    grpc::ClientContext context;
    const auto before = Clock::now();
    grpc::Status status = stub->LeaseTask(&context, request, &leased);
    if (!status.ok()) {
      ++stats.errors;
      continue;
    }
    if (!leased.has_task()) continue;
    stats.lease.Add(Clock::now() - before);
    ++stats.assignments;
    {
      std::lock_guard<std::mutex> lock(stats.times_mu);
      stats.lease_times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
    const v1::Task& task = leased.task();
    const auto finish = Clock::now() + std::chrono::duration<double>(options.task_seconds);
    int64_t step = 0;
    while (Clock::now() < finish) {
      std::this_thread::sleep_for(std::chrono::duration<double>(
          std::min(options.report_seconds,
                   std::chrono::duration<double>(finish - Clock::now()).count())));
      v1::HeartbeatRequest heartbeat;
      heartbeat.set_task_id(task.id());
      heartbeat.set_epoch(task.epoch());
      v1::HeartbeatResponse beat;
      grpc::ClientContext heartbeat_context;
      auto t0 = Clock::now();
      if (stub->Heartbeat(&heartbeat_context, heartbeat, &beat).ok()) {
        stats.heartbeat.Add(Clock::now() - t0);
      } else {
        ++stats.errors;
      }
      v1::ReportProgressRequest progress;
      progress.set_task_id(task.id());
      progress.set_epoch(task.epoch());
      v1::Progress* p = progress.add_progress();
      p->set_phase(task.kind() == v1::TASK_KIND_TRAIN ? "train" : "preprocess");
      p->set_step(++step);
      p->set_total(100);
      p->set_loss(0.1);
      progress.add_logs()->set_text(absl::StrCat("step ", step));
      v1::ReportProgressResponse reported;
      grpc::ClientContext progress_context;
      t0 = Clock::now();
      if (stub->ReportProgress(&progress_context, progress, &reported).ok()) {
        stats.progress.Add(Clock::now() - t0);
      } else {
        ++stats.errors;
      }
    }
    v1::OutputRef ref;
    {
      grpc::ClientContext upload_context;
      auto writer = stub->UploadOutput(&upload_context, &ref);
      v1::UploadOutputRequest header;
      header.mutable_header()->set_task_id(task.id());
      header.mutable_header()->set_epoch(task.epoch());
      header.mutable_header()->set_name("output.bin");
      header.mutable_header()->set_size_bytes(static_cast<int64_t>(output_bytes.size()));
      header.mutable_header()->set_sha256(output_sha);
      writer->Write(header);
      v1::UploadOutputRequest data;
      data.set_data(output_bytes);
      writer->Write(data);
      writer->WritesDone();
      if (!writer->Finish().ok()) {
        ++stats.errors;
        continue;
      }
    }
    v1::CompleteTaskRequest complete;
    complete.set_task_id(task.id());
    complete.set_epoch(task.epoch());
    if (task.kind() == v1::TASK_KIND_TRAIN) {
      *complete.mutable_weights() = ref;
      complete.set_weights_format("diffusers-lora");
    } else {
      *complete.mutable_prepared_dataset() = ref;
    }
    v1::CompleteTaskResponse completed;
    grpc::ClientContext complete_context;
    const auto t0 = Clock::now();
    if (stub->CompleteTask(&complete_context, complete, &completed).ok()) {
      stats.complete.Add(Clock::now() - t0);
      if (task.kind() == v1::TASK_KIND_TRAIN) ++stats.completed_train;
    } else {
      ++stats.errors;
    }
  }
}

int Main(int argc, char** argv) {
  Options options;
  CLI::App app{"easel-scheduler-load: the coordinator under many simulated workers",
               "easel-scheduler-load"};
  app.add_option("--coordinator-bin", options.coordinator_bin, "Path of easel-coordinator")
      ->required();
  app.add_option("--workers", options.workers, "Simulated workers")->capture_default_str();
  app.add_option("--trainings", options.trainings, "Trainings to create")->capture_default_str();
  app.add_option("--task-seconds", options.task_seconds, "How long each stand-in task runs")
      ->capture_default_str();
  app.add_option("--report-seconds", options.report_seconds,
                 "Heartbeat and progress interval while a task runs")
      ->capture_default_str();
  app.add_option("--channels", options.channels, "gRPC channels the workers share")
      ->capture_default_str();
  app.add_option("--report", options.report, "Markdown report to write");
  CLI11_PARSE(app, argc, argv);

  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / absl::StrCat("easel-load-", getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "base");
  std::ofstream(dir / "base" / "model_index.json") << "{}";
  auto coordinator = testing::ServerProcess::Start(
      {options.coordinator_bin, "--data-dir", (dir / "data").string(), "--listen",
       "127.0.0.1:0", "--lease-seconds", "60", "--retry-backoff-seconds", "0"},
      dir / "coordinator.log");
  if (!coordinator.ok()) {
    std::fprintf(stderr, "%s\n", coordinator.status().ToString().c_str());
    return 1;
  }
  auto line = (*coordinator)->ReadLine();
  const std::string address =
      nlohmann::json::parse(line.value_or("{}"), nullptr, false).value("address", "");
  const pid_t coordinator_pid = (*coordinator)->pid();
  // Calls carry the admin token, so that the benchmark pays for authentication as workers do.
  ClientOptions client;
  client.token = ReadTokenFile(dir / "data" / "admin-token").value_or("");

  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < options.channels; ++i) {
    grpc::ChannelArguments arguments;
    arguments.SetInt("load-bench-channel", i);  // distinct channels, distinct connections
    channels.push_back(*CreateClientChannel(address, client, arguments));
  }
  auto models = v1::ModelService::NewStub(channels[0]);
  auto datasets = v1::DatasetService::NewStub(channels[0]);
  {
    grpc::ClientContext context;
    v1::ImportBaseVersionRequest request;
    request.set_model("load/base");
    request.set_diffusers_dir((dir / "base").string());
    v1::Version version;
    Check(models->ImportBaseVersion(&context, request, &version), "ImportBaseVersion");
  }
  {
    grpc::ClientContext context;
    v1::CreateModelRequest request;
    request.set_owner("load");
    request.set_name("dest");
    v1::Model model;
    Check(models->CreateModel(&context, request, &model), "CreateModel");
  }
  std::string dataset_name;
  {
    // An empty zip (its end-of-central-directory record alone): the stand-in workers never
    // open it.
    const std::string zip = std::string("PK\x05\x06", 4) + std::string(18, '\0');
    grpc::ClientContext context;
    v1::Dataset dataset;
    auto writer = datasets->UploadDataset(&context, &dataset);
    v1::UploadDatasetRequest header;
    header.mutable_header()->set_upload_id("load-bench");
    header.mutable_header()->set_filename("photos.zip");
    header.mutable_header()->set_size_bytes(static_cast<int64_t>(zip.size()));
    header.mutable_header()->set_sha256(Sha256Hex(zip));
    writer->Write(header);
    v1::UploadDatasetRequest chunk;
    chunk.mutable_chunk()->set_offset(0);
    chunk.mutable_chunk()->set_data(zip);
    writer->Write(chunk);
    writer->WritesDone();
    Check(writer->Finish(), "UploadDataset");
    dataset_name = dataset.name();
  }

  // Create the trainings (several threads; each request has its own request_id).
  const auto create_start = Clock::now();
  {
    std::vector<std::thread> creators;
    std::atomic<int> next{0};
    for (int t = 0; t < 8; ++t) {
      creators.emplace_back([&, t] {
        auto trainings = v1::TrainingService::NewStub(channels[t % channels.size()]);
        for (int i = next++; i < options.trainings; i = next++) {
          v1::CreateTrainingRequest request;
          request.set_model("load/base");
          request.set_destination("load/dest");
          request.set_request_id(absl::StrCat("load-", i));
          auto& fields = *request.mutable_input()->mutable_fields();
          fields["input_images"].set_string_value(dataset_name);
          fields["max_train_steps"].set_number_value(100);
          v1::Training training;
          grpc::ClientContext context;
          Check(trainings->CreateTraining(&context, request, &training), "CreateTraining");
        }
      });
    }
    for (std::thread& creator : creators) creator.join();
  }
  const double create_seconds = std::chrono::duration<double>(Clock::now() - create_start).count();
  std::fprintf(stderr, "created %d trainings in %.1f s\n", options.trainings, create_seconds);

  // Run the workers until every training has its version.
  Stats stats;
  std::atomic<bool> done{false};
  const ProcessUsage usage_before = Usage(coordinator_pid);
  const auto start = Clock::now();
  std::vector<std::unique_ptr<v1::WorkerService::Stub>> stubs;
  for (const auto& channel : channels) stubs.push_back(v1::WorkerService::NewStub(channel));
  std::vector<std::thread> workers;
  for (int i = 0; i < options.workers; ++i) {
    workers.emplace_back(RunWorker, i, stubs[i % stubs.size()].get(), std::cref(options),
                         std::ref(stats), start, std::cref(done));
  }
  for (int tick = 1; stats.completed_train.load() < options.trainings; ++tick) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (tick % 25 != 0) continue;
    std::fprintf(stderr, "%lld/%d trainings done, %lld assignments, %lld failed calls\n",
                 static_cast<long long>(stats.completed_train.load()), options.trainings,
                 static_cast<long long>(stats.assignments.load()),
                 static_cast<long long>(stats.errors.load()));
  }
  const double run_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  done.store(true);
  for (std::thread& worker : workers) worker.join();
  const ProcessUsage usage_after = Usage(coordinator_pid);

  // Every training succeeded once; every version belongs to a distinct training.
  int64_t succeeded = 0, listed = 0;
  {
    auto trainings = v1::TrainingService::NewStub(channels[0]);
    std::string token;
    do {
      v1::ListTrainingsRequest request;
      request.set_page_size(100);
      request.set_page_token(token);
      v1::ListTrainingsResponse response;
      grpc::ClientContext context;
      Check(trainings->ListTrainings(&context, request, &response), "ListTrainings");
      for (const v1::Training& training : response.trainings()) {
        ++listed;
        if (training.status() == v1::SUCCEEDED) ++succeeded;
      }
      token = response.next_page_token();
    } while (!token.empty());
  }
  std::set<std::string> version_trainings;
  int64_t versions = 0;
  {
    std::string token;
    do {
      v1::ListVersionsRequest request;
      request.set_model("load/dest");
      request.set_page_size(100);
      request.set_page_token(token);
      v1::ListVersionsResponse response;
      grpc::ClientContext context;
      Check(models->ListVersions(&context, request, &response), "ListVersions");
      for (const v1::Version& version : response.versions()) {
        ++versions;
        version_trainings.insert(version.training_id());
      }
      token = response.next_page_token();
    } while (!token.empty());
  }
  (*coordinator)->Terminate();

  // The busiest second of lease assignments.
  std::map<int64_t, int64_t> per_second;
  for (double t : stats.lease_times) ++per_second[static_cast<int64_t>(t)];
  int64_t peak_rate = 0;
  for (const auto& [second, count] : per_second) peak_rate = std::max(peak_rate, count);

  const double assignments_per_second = static_cast<double>(stats.assignments) / run_seconds;
  const double cpu = usage_after.cpu_seconds - usage_before.cpu_seconds;
  const double heartbeat_p99 = stats.heartbeat.Percentile(99);
  const double rss_gib = static_cast<double>(usage_after.peak_rss_bytes) / (1 << 30);
  const bool exact = succeeded == options.trainings && listed == options.trainings &&
                     versions == options.trainings &&
                     static_cast<int64_t>(version_trainings.size()) == options.trainings;
  auto verdict = [](bool met) { return met ? "PASS" : "MISS"; };

  std::string command = absl::StrFormat(
      "build/tests/bench/easel-scheduler-load --coordinator-bin build/coordinator/easel-coordinator "
      "--workers %d --trainings %d --task-seconds %g --report-seconds %g --report %s",
      options.workers, options.trainings, options.task_seconds, options.report_seconds,
      options.report.empty() ? "-" : options.report);
  std::string table = absl::StrFormat(
      "| measure | result | target | |\n|---|---|---|---|\n"
      "| lease assignments per second (mean over the run) | %.0f | ≥ 500 | %s |\n"
      "| lease assignments in the busiest second | %d | | |\n"
      "| LeaseTask latency p50 / p99 (calls that got a task) | %.1f / %.1f ms | | |\n"
      "| Heartbeat latency p50 / p99 | %.1f / %.1f ms | p99 < 50 ms | %s |\n"
      "| ReportProgress latency p50 / p99 | %.1f / %.1f ms | | |\n"
      "| CompleteTask latency p50 / p99 | %.1f / %.1f ms | | |\n"
      "| coordinator CPU | %.1f s over %.1f s (%.0f%% of one core) | | |\n"
      "| coordinator peak RSS | %.2f GiB | < 1 GiB | %s |\n"
      "| trainings succeeded / versions / distinct trainings with a version | %d / %d / %d of "
      "%d | all, no duplicates | %s |\n"
      "| failed calls | %d | | |\n",
      assignments_per_second, verdict(assignments_per_second >= 500), peak_rate,
      stats.lease.Percentile(50), stats.lease.Percentile(99), stats.heartbeat.Percentile(50),
      heartbeat_p99, verdict(heartbeat_p99 < 50), stats.progress.Percentile(50),
      stats.progress.Percentile(99), stats.complete.Percentile(50),
      stats.complete.Percentile(99), cpu, run_seconds, 100 * cpu / run_seconds, rss_gib,
      verdict(rss_gib < 1), succeeded, versions, version_trainings.size(), options.trainings,
      verdict(exact), stats.errors.load());
  std::printf("%s\n%s", command.c_str(), table.c_str());
  if (!options.report.empty()) {
    utsname host;
    uname(&host);
    std::ofstream out(options.report);
    out << "# Scheduler load benchmark\n\n"
        << "One `easel-coordinator` on loopback (real gRPC with an API token on every call, "
           "real SQLite in WAL mode: `synchronous=FULL`, heartbeats and progress reports "
           "`NORMAL`), "
        << options.workers << " simulated workers in one process and " << options.trainings
        << " trainings. Each simulated worker registers, then leases tasks; a task \"runs\" for "
        << options.task_seconds << " s, sending a heartbeat and a progress report (one progress "
        << "event and one log line) every " << options.report_seconds
        << " s, then uploads a stand-in output and completes. Every training is a PREPROCESS "
           "task and then a TRAIN task (the prepared-dataset cache is filled by the first "
           "PREPROCESS to finish, but the trainings were all created before that), so there are "
           "two assignments per training. The workers share "
        << options.channels << " gRPC channels.\n\n"
        << "Command:\n\n```\n" << command << "\n```\n\n"
        << "Machine: " << std::thread::hardware_concurrency() << " cores (" << CpuModel()
        << "), " << host.sysname << " " << host.release
        << "; the coordinator and all simulated workers share these cores.\n\n"
        << "Creating the " << options.trainings << " trainings took "
        << absl::StrFormat("%.1f", create_seconds) << " s (8 client threads); the run took "
        << absl::StrFormat("%.1f", run_seconds) << " s.\n\n"
        << table;
  }
  std::filesystem::remove_all(dir);
  return exact ? 0 : 1;
}

}  // namespace
}  // namespace easel

int main(int argc, char** argv) { return easel::Main(argc, argv); }
