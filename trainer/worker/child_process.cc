#include "trainer/worker/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace easel::worker {

std::string ExitStatus::Describe() const {
  if (exited) return absl::StrCat("exit status ", code);
  return absl::StrCat("killed by signal ", signal, " (", strsignal(signal), ")");
}

namespace {

// The worker's environment with `overrides` (NAME=value) added or replacing.
std::vector<std::string> MergeEnvironment(const std::vector<std::string>& overrides) {
  std::vector<std::string> merged;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view current(*entry);
    const std::string_view name = current.substr(0, current.find('='));
    const bool replaced = std::any_of(
        overrides.begin(), overrides.end(),
        [&](const std::string& o) { return std::string_view(o).substr(0, o.find('=')) == name; });
    if (!replaced) merged.emplace_back(current);
  }
  merged.insert(merged.end(), overrides.begin(), overrides.end());
  return merged;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::vector<std::string>& argv, const std::vector<std::string>& environment) {
  if (argv.empty()) return absl::InvalidArgumentError("no command to run");
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return absl::InternalError(strerror(errno));
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return absl::InternalError(strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // Its own process group, so a stop reaches the child's children too.
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);

  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const std::vector<std::string> merged = MergeEnvironment(environment);
  std::vector<char*> env;
  for (const std::string& entry : merged) env.push_back(const_cast<char*>(entry.c_str()));
  env.push_back(nullptr);
  pid_t pid = 0;
  int error = posix_spawn(&pid, argv[0].c_str(), &actions, &attributes, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (error != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot start ", argv[0], ": ", strerror(error)));
  }
  int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, out_pipe[0], err_pipe[0], wake_fd));
}

ChildProcess::ChildProcess(pid_t pid, int stdout_fd, int stderr_fd, int wake_fd)
    : pid_(pid), stdout_fd_(stdout_fd), stderr_fd_(stderr_fd), wake_fd_(wake_fd) {}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    kill(-pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  for (int fd : {stdout_fd_, stderr_fd_, wake_fd_}) {
    if (fd >= 0) close(fd);
  }
}

void ChildProcess::Stop(absl::Duration grace) {
  grace_ms_.store(absl::ToInt64Milliseconds(grace));
  stop_requested_.store(true);
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
}

namespace {

// Splits what arrives on a pipe into lines.
class LineReader {
 public:
  explicit LineReader(std::function<void(std::string_view)> sink) : sink_(std::move(sink)) {}

  // Returns false at end of file.
  bool ReadFrom(int fd) {
    char buffer[8192];
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (n <= 0) {
      Flush();
      return false;
    }
    pending_.append(buffer, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t newline; (newline = pending_.find('\n', start)) != std::string::npos;
         start = newline + 1) {
      Emit(std::string_view(pending_).substr(start, newline - start));
    }
    pending_.erase(0, start);
    return true;
  }

  void Flush() {
    if (!pending_.empty()) Emit(pending_);
    pending_.clear();
  }

 private:
  void Emit(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (sink_) sink_(line);
  }

  std::function<void(std::string_view)> sink_;
  std::string pending_;
};

}  // namespace

ExitStatus ChildProcess::Wait(const ChildOutput& output) {
  LineReader out(output.on_stdout_line), err(output.on_stderr_line);
  bool out_open = true, err_open = true;
  bool term_sent = false;
  auto kill_at = std::chrono::steady_clock::time_point::max();
  const int tick_ms = static_cast<int>(absl::ToInt64Milliseconds(output.tick));

  while (out_open || err_open) {
    pollfd fds[3] = {{stdout_fd_, POLLIN, 0}, {stderr_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (!out_open) fds[0].fd = -1;
    if (!err_open) fds[1].fd = -1;
    int ready = poll(fds, 3, tick_ms);
    if (ready < 0 && errno != EINTR) break;
    if (fds[0].revents) out_open = out.ReadFrom(stdout_fd_);
    if (fds[1].revents) err_open = err.ReadFrom(stderr_fd_);
    if (fds[2].revents) {
      uint64_t ignored;
      (void)!read(wake_fd_, &ignored, sizeof ignored);
    }
    if (stop_requested_.load() && !term_sent) {
      kill(-pid_, SIGTERM);
      term_sent = true;
      kill_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms_.load());
    }
    if (term_sent && std::chrono::steady_clock::now() >= kill_at) {
      kill(-pid_, SIGKILL);
      kill_at = std::chrono::steady_clock::time_point::max();
    }
    if (output.on_tick) output.on_tick();
  }

  int raw = 0;
  while (waitpid(pid_, &raw, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  ExitStatus status;
  if (WIFEXITED(raw)) {
    status.exited = true;
    status.code = WEXITSTATUS(raw);
  } else if (WIFSIGNALED(raw)) {
    status.signal = WTERMSIG(raw);
  }
  return status;
}

}  // namespace easel::worker
