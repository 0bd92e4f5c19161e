// easel-worker: leases tasks from a coordinator and runs easel-preprocess and easel-trainer.

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "CLI/CLI.hpp"
#include "common/client_channel.h"
#include "absl/strings/str_cat.h"
#include "trainer/worker/worker_agent.h"

namespace {

std::filesystem::path Beside(const char* name) {
  std::error_code error;
  auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::filesystem::path(name) : self.parent_path() / name;
}

}  // namespace

int main(int argc, char** argv) {
  // SIGTERM and SIGINT are taken by one thread with sigwait, so stopping runs outside a
  // signal handler. SIGUSR1 lets main end that thread when the agent returns by itself. They
  // are blocked first, so that every thread started later (gRPC's too) inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  CLI::App app{"easel-worker: runs training tasks leased from an Easel coordinator."};
  app.footer(
      "Example:\n  easel-worker --coordinator 127.0.0.1:7500 --work-dir /var/lib/easel/work\n\n"
      "The worker registers its devices, leases tasks, runs easel-preprocess and easel-trainer\n"
      "as child processes (by default the ones beside this binary), streams their progress,\n"
      "and uploads the trained weights. SIGTERM stops the running task and exits.");
  easel::worker::WorkerOptions options;
  char hostname[256] = "worker";
  gethostname(hostname, sizeof hostname - 1);
  options.name = hostname;
  std::string work_dir = "easel-work";
  std::string preprocess_bin = Beside("easel-preprocess").string();
  std::string trainer_bin = Beside("easel-trainer").string();
  app.add_option("--coordinator", options.coordinator, "Coordinator address (host:port)")
      ->capture_default_str();
  app.add_option("--name", options.name, "Worker name shown by the coordinator")
      ->capture_default_str();
  app.add_option("--work-dir", work_dir, "Scratch directory for tasks")->capture_default_str();
  app.add_option("--preprocess-bin", preprocess_bin, "Path of easel-preprocess")
      ->capture_default_str();
  app.add_option("--trainer-bin", trainer_bin, "Path of easel-trainer")->capture_default_str();
  app.add_option("--max-tasks", options.max_tasks, "Exit after this many tasks (0: never)")
      ->capture_default_str();
  app.add_flag("--keep-work-dirs", options.runner.keep_work_dirs,
               "Keep each task's scratch directory for debugging");
  std::string token_file, tls_ca;
  app.add_option("--token-file", token_file,
                 "File holding the worker's API token (easel tokens create --role worker); "
                 "default: $EASEL_API_TOKEN");
  app.add_option("--tls-ca", tls_ca,
                 "PEM file of the CA that signed the coordinator's certificate: connect over "
                 "TLS; default: $EASEL_TLS_CA");
  CLI11_PARSE(app, argc, argv);

  easel::ClientOptions client = easel::ClientOptionsFromEnvironment();
  if (!token_file.empty()) {
    absl::StatusOr<std::string> token = easel::ReadTokenFile(token_file);
    if (!token.ok()) {
      std::fprintf(stderr, "easel-worker: %s\n", std::string(token.status().message()).c_str());
      return 2;
    }
    client.token = *token;
  }
  if (!tls_ca.empty()) client.tls_ca_file = tls_ca;
  auto channel = easel::CreateClientChannel(options.coordinator, client);
  if (!channel.ok()) {
    std::fprintf(stderr, "easel-worker: %s\n", std::string(channel.status().message()).c_str());
    return 2;
  }
  options.channel = *channel;

  options.runner.work_dir = std::filesystem::absolute(work_dir);
  options.runner.preprocess_bin = preprocess_bin;
  options.runner.trainer_bin = trainer_bin;
  for (const auto& bin : {options.runner.preprocess_bin, options.runner.trainer_bin}) {
    if (access(bin.c_str(), X_OK) != 0) {
      std::fprintf(stderr, "easel-worker: %s is not an executable; pass --preprocess-bin / "
                           "--trainer-bin\n", bin.c_str());
      return 2;
    }
  }
  std::error_code error;
  std::filesystem::create_directories(options.runner.work_dir, error);
  if (error) {
    std::fprintf(stderr, "easel-worker: cannot create %s: %s\n",
                 options.runner.work_dir.c_str(), error.message().c_str());
    return 2;
  }
  options.devices = easel::worker::DetectDevices(options.runner.trainer_bin);

  easel::worker::WorkerAgent agent(std::move(options));
  std::thread signal_thread([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    if (signal != SIGUSR1) agent.Stop();
  });
  absl::Status status = agent.Run();
  pthread_kill(signal_thread.native_handle(), SIGUSR1);
  signal_thread.join();
  if (!status.ok()) {
    std::fprintf(stderr, "easel-worker: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
