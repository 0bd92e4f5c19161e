#include "trainer/worker/child_process.h"

#include <signal.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace easel::worker {
namespace {

TEST(ChildProcessTest, ReadsStdoutAndStderrLinesAndExitCode) {
  auto child = ChildProcess::Start(
      {"/bin/sh", "-c", "echo one; echo two; echo oops >&2; printf tail; exit 3"});
  ASSERT_TRUE(child.ok()) << child.status();
  std::vector<std::string> out, err;
  ChildOutput output;
  output.on_stdout_line = [&](std::string_view line) { out.emplace_back(line); };
  output.on_stderr_line = [&](std::string_view line) { err.emplace_back(line); };
  ExitStatus status = (*child)->Wait(output);
  EXPECT_EQ(out, (std::vector<std::string>{"one", "two", "tail"}));
  EXPECT_EQ(err, (std::vector<std::string>{"oops"}));
  EXPECT_TRUE(status.exited);
  EXPECT_EQ(status.code, 3);
  EXPECT_FALSE(status.success());
  EXPECT_EQ(status.Describe(), "exit status 3");
}

TEST(ChildProcessTest, StopSendsTermThenKillAfterGrace) {
  // The child ignores SIGTERM, so only the SIGKILL after the grace period ends it. It says
  // "ready" once the trap is set, and the stop is requested from that line: no timing guess.
  auto child = ChildProcess::Start(
      {"/bin/sh", "-c", "trap '' TERM; echo ready; while :; do read x < /dev/zero; done"});
  ASSERT_TRUE(child.ok());
  ChildProcess* process = child->get();
  ChildOutput output;
  output.on_stdout_line = [&](std::string_view line) {
    if (line == "ready") process->Stop(absl::Milliseconds(200));
  };
  ExitStatus status = process->Wait(output);
  EXPECT_FALSE(status.exited);
  EXPECT_EQ(status.signal, SIGKILL);
  EXPECT_TRUE(process->stop_requested());
}

TEST(ChildProcessTest, StopEndsAChildThatHonoursTerm) {
  auto child = ChildProcess::Start({"/bin/sh", "-c", "echo ready; exec sleep 600"});
  ASSERT_TRUE(child.ok());
  ChildProcess* process = child->get();
  ChildOutput output;
  output.on_stdout_line = [&](std::string_view) { process->Stop(absl::Seconds(60)); };
  ExitStatus status = process->Wait(output);
  EXPECT_FALSE(status.exited);
  EXPECT_EQ(status.signal, SIGTERM);
}

TEST(ChildProcessTest, EnvironmentEntriesAreAddedOrReplaceTheWorkersOwn) {
  setenv("EASEL_CHILD_TEST_KEPT", "kept", 1);
  setenv("EASEL_CHILD_TEST_REPLACED", "old", 1);
  auto child = ChildProcess::Start(
      {"/bin/sh", "-c",
       "echo $EASEL_CHILD_TEST_KEPT $EASEL_CHILD_TEST_REPLACED $EASEL_CHILD_TEST_ADDED"},
      {"EASEL_CHILD_TEST_REPLACED=new", "EASEL_CHILD_TEST_ADDED=added"});
  ASSERT_TRUE(child.ok()) << child.status();
  std::vector<std::string> out;
  ChildOutput output;
  output.on_stdout_line = [&](std::string_view line) { out.emplace_back(line); };
  EXPECT_TRUE((*child)->Wait(output).success());
  EXPECT_EQ(out, (std::vector<std::string>{"kept new added"}));
}

TEST(ChildProcessTest, MissingProgramIsAnError) {
  auto child = ChildProcess::Start({"/nonexistent/easel-trainer"});
  ASSERT_FALSE(child.ok());
  EXPECT_NE(child.status().message().find("/nonexistent/easel-trainer"), std::string::npos);
}

}  // namespace
}  // namespace easel::worker
