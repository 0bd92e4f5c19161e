#include "cli/config.h"

#include <cstdlib>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace easel::cli {
namespace {

using ::testing::HasSubstr;

std::filesystem::path WriteConfig(const std::string& text) {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("easel-config-" + std::to_string(::getpid()));
  std::ofstream(path) << text;
  return path;
}

TEST(ConfigTest, ReadsKeysIgnoringCommentsAndBlankLines) {
  auto path = WriteConfig(
      "# my coordinator\n\nhost = gpu-box:7500\ntoken=secret # the demo token\n"
      "  tls_ca =  /etc/easel/ca.pem  \n");
  absl::StatusOr<Config> config = ReadConfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->host, "gpu-box:7500");
  EXPECT_EQ(config->token, "secret");
  EXPECT_EQ(config->tls_ca, "/etc/easel/ca.pem");
  std::filesystem::remove(path);
}

TEST(ConfigTest, AMissingFileIsAnEmptyConfig) {
  absl::StatusOr<Config> config = ReadConfig("/nonexistent/easel/config");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->host.empty() && config->token.empty() && config->tls_ca.empty());
}

TEST(ConfigTest, BadLinesNameTheFileAndLine) {
  auto path = WriteConfig("host = a:1\nhots = b:2\n");
  absl::StatusOr<Config> config = ReadConfig(path);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr(path.string() + " line 2"));
  EXPECT_THAT(config.status().message(), HasSubstr("'hots'"));
  std::ofstream(path) << "just words\n";
  EXPECT_THAT(ReadConfig(path).status().message(), HasSubstr("line 1: expected key = value"));
  std::filesystem::remove(path);
}

TEST(ConfigTest, EaselConfigNamesTheFile) {
  setenv("EASEL_CONFIG", "/tmp/somewhere/config", 1);
  EXPECT_EQ(ConfigPath(), "/tmp/somewhere/config");
  unsetenv("EASEL_CONFIG");
  setenv("XDG_CONFIG_HOME", "/tmp/xdg", 1);
  EXPECT_EQ(ConfigPath(), "/tmp/xdg/easel/config");
}

}  // namespace
}  // namespace easel::cli
