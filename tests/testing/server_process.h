#ifndef EASEL_TESTS_TESTING_SERVER_PROCESS_H_
#define EASEL_TESTS_TESTING_SERVER_PROCESS_H_

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace easel::testing {

// A long-running child process for end-to-end tests: stdout is a pipe the test reads lines
// from, stderr goes to a log file (printed when a test fails). Killed on destruction.
class ServerProcess {
 public:
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      const std::vector<std::string>& argv, const std::filesystem::path& log_file);
  ~ServerProcess();

  // Blocks until the child writes a line; error at end of output.
  absl::StatusOr<std::string> ReadLine();
  bool Running();
  // SIGTERM, then waits; returns the raw wait status.
  int Terminate();
  std::string Log() const;  // what the child wrote to stderr so far
  pid_t pid() const { return pid_; }

 private:
  ServerProcess(pid_t pid, int stdout_fd, std::filesystem::path log_file)
      : pid_(pid), stdout_fd_(stdout_fd), log_file_(std::move(log_file)) {}
  pid_t pid_;
  int stdout_fd_;
  std::filesystem::path log_file_;
  std::string buffer_;
};

// Runs a command to completion and returns its exit code and output.
struct CommandResult {
  int exit_code = -1;
  std::string stdout_text;
  std::string stderr_text;
};
CommandResult RunCommand(const std::vector<std::string>& argv);

}  // namespace easel::testing

#endif  // EASEL_TESTS_TESTING_SERVER_PROCESS_H_
