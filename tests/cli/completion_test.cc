#include "cli/completion.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace easel::cli {
namespace {

// An app shaped like easel's: options at the top and on nested subcommands.
class CompletionTest : public ::testing::Test {
 protected:
  CompletionTest() {
    app_.add_option("--host", host_, "");
    CLI::App* train = app_.add_subcommand("train", "");
    train->add_option("-d,--destination", value_, "");
    train->add_flag("--follow", flag_, "");
    CLI::App* trainings = app_.add_subcommand("trainings", "");
    trainings->add_subcommand("list", "")->add_option("--limit", value_, "");
    trainings->add_subcommand("logs", "");
  }

  // What bash completes for the words typed so far (the last one being completed).
  std::string Complete(const std::string& words) {
    std::filesystem::path script =
        std::filesystem::temp_directory_path() / ("easel-completion-" + std::to_string(getpid()));
    std::ofstream(script) << BashCompletion(app_);
    std::string command = "bash -c 'source " + script.string() + "; COMP_WORDS=(" + words +
                          "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _easel; "
                          "echo \"${COMPREPLY[*]}\"'";
    FILE* pipe = popen(command.c_str(), "r");
    std::string out;
    char buffer[512];
    while (pipe != nullptr && fgets(buffer, sizeof(buffer), pipe) != nullptr) out += buffer;
    if (pipe != nullptr) pclose(pipe);
    std::filesystem::remove(script);
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  CLI::App app_{"test app", "easel"};
  std::string host_, value_;
  bool flag_ = false;
};

TEST_F(CompletionTest, CompletesSubcommandsAndTheOptionsOfEachLevel) {
  EXPECT_EQ(Complete("easel tr ''").empty(), false);
  EXPECT_EQ(Complete("easel tra"), "train trainings");
  EXPECT_EQ(Complete("easel --ho"), "--host");
  EXPECT_EQ(Complete("easel train --f"), "--follow");
  EXPECT_EQ(Complete("easel train --d"), "--destination");
  EXPECT_EQ(Complete("easel trainings l"), "list logs");
  EXPECT_EQ(Complete("easel trainings list --l"), "--limit");
  // Words that are not commands (inputs) do not change the level.
  EXPECT_EQ(Complete("easel train easel/tiny steps=3 --fo"), "--follow");
}

TEST_F(CompletionTest, ZshLoadsBashcompinitFirst) {
  EXPECT_THAT(ZshCompletion(app_), ::testing::StartsWith("autoload -U +X bashcompinit"));
  EXPECT_THAT(ZshCompletion(app_), ::testing::HasSubstr("complete -o default -F _easel easel"));
}

}  // namespace
}  // namespace easel::cli
