#include "tests/testing/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "trainer/worker/child_process.h"

extern char** environ;

namespace easel::testing {
namespace {

std::vector<char*> Argv(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  return args;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    const std::vector<std::string>& argv, const std::filesystem::path& log_file) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return absl::InternalError(strerror(errno));
  int log_fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, log_fd, STDERR_FILENO);
  pid_t pid = 0;
  auto args = Argv(argv);
  int error = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  close(log_fd);
  if (error != 0) {
    close(out[0]);
    return absl::InternalError(absl::StrCat("cannot start ", argv[0], ": ", strerror(error)));
  }
  return std::unique_ptr<ServerProcess>(new ServerProcess(pid, out[0], log_file));
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  close(stdout_fd_);
}

absl::StatusOr<std::string> ServerProcess::ReadLine() {
  for (;;) {
    if (auto newline = buffer_.find('\n'); newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      return line;
    }
    char chunk[4096];
    ssize_t n = read(stdout_fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return absl::UnavailableError(absl::StrCat("process ended; its log:\n", Log()));
    }
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

bool ServerProcess::Running() {
  return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0;
}

int ServerProcess::Terminate() {
  int status = 0;
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  return status;
}

std::string ServerProcess::Log() const {
  std::ifstream in(log_file_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

CommandResult RunCommand(const std::vector<std::string>& argv) {
  CommandResult result;
  auto child = worker::ChildProcess::Start(argv);
  if (!child.ok()) {
    result.stderr_text = std::string(child.status().message());
    return result;
  }
  worker::ChildOutput output;
  output.on_stdout_line = [&](std::string_view line) { result.stdout_text.append(line) += "\n"; };
  output.on_stderr_line = [&](std::string_view line) { result.stderr_text.append(line) += "\n"; };
  worker::ExitStatus status = (*child)->Wait(output);
  result.exit_code = status.exited ? status.code : 128 + status.signal;
  return result;
}

}  // namespace easel::testing
