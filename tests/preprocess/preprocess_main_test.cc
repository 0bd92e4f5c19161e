// Runs easel-preprocess as a child process: exit codes, JSON lines on stdout, the manifest.

#include <sys/wait.h>

#include <cstdio>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "preprocess/manifest.h"
#include "tests/preprocess/test_support.h"

namespace easel::preprocess {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::Encode;
using testing::ScopedTempDir;
using testing::ReadFileBytes;
using testing::SolidImage;
using testing::WriteZip;

struct RunResult {
  int exit_code = -1;
  std::vector<std::string> lines;  // stdout
};

std::string ShellQuote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

RunResult RunPreprocess(const std::vector<std::string>& args, const fs::path& stderr_file) {
  std::string command = ShellQuote(EASEL_PREPROCESS_BINARY);
  for (const std::string& arg : args) command += " " + ShellQuote(arg);
  command += " 2>" + ShellQuote(stderr_file.string());
  RunResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::string output;
  char buffer[4096];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::istringstream stream(output);
  for (std::string line; std::getline(stream, line);) result.lines.push_back(line);
  return result;
}

std::vector<nlohmann::json> ParseLines(const RunResult& run) {
  std::vector<nlohmann::json> events;
  for (const std::string& line : run.lines) {
    EXPECT_TRUE(nlohmann::json::accept(line)) << "not a JSON line: " << line;
    if (nlohmann::json::accept(line)) events.push_back(nlohmann::json::parse(line));
  }
  return events;
}

class PreprocessMainTest : public ::testing::Test {
 protected:
  ScopedTempDir temp_;
  fs::path dir_ = temp_.path();
};

TEST_F(PreprocessMainTest, PreparesADatasetAndReportsJsonLines) {
  const fs::path zip = dir_ / "data.zip";
  WriteZip(zip, {{.name = "b.jpg", .data = Encode(SolidImage(640, 480, {0, 0, 255}), ".jpg")},
                 {.name = "a.png", .data = Encode(SolidImage(50, 70, {0, 255, 0}), ".png")},
                 {.name = "notes.pdf", .data = "hello"},
                 {.name = "caption.csv", .data = "image_file,caption\nb.jpg,TOK at home\n"}});
  const RunResult run =
      RunPreprocess({"--archive", zip.string(), "--output", (dir_ / "out").string(),
                     "--resolution", "64", "--token-string", "zwx", "--caption-prefix",
                     "a photo of TOK"},
                    dir_ / "stderr.txt");
  EXPECT_EQ(run.exit_code, 0) << ReadFileBytes(dir_ / "stderr.txt");
  const std::vector<nlohmann::json> events = ParseLines(run);
  ASSERT_EQ(events.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(events[i]["event"], "progress");
    EXPECT_EQ(events[i]["step"], i + 1);
    EXPECT_EQ(events[i]["total"], 3);
  }
  EXPECT_EQ(events[0]["message"], "decoded a.png");
  EXPECT_EQ(events[3]["event"], "done");
  EXPECT_EQ(events[3]["images"], 2);
  EXPECT_EQ(events[3]["skipped"], 1);
  EXPECT_EQ(events[3]["manifest"], "manifest.json");

  const absl::StatusOr<Manifest> manifest = ParseManifest(ReadFileBytes(dir_ / "out/manifest.json"));
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  ASSERT_EQ(manifest->images.size(), 2u);
  EXPECT_EQ(manifest->images[0].caption, "a photo of zwx");
  EXPECT_EQ(manifest->images[1].caption, "zwx at home");
  EXPECT_TRUE(fs::exists(dir_ / "out" / manifest->images[1].file));
}

TEST_F(PreprocessMainTest, CropAndLimitFlags) {
  const fs::path zip = dir_ / "data.zip";
  WriteZip(zip, {{.name = "wide.png", .data = Encode(SolidImage(640, 320, {0, 0, 255}), ".png")},
                 {.name = "tall.png", .data = Encode(SolidImage(300, 600, {0, 255, 0}), ".png")}});
  const RunResult run = RunPreprocess(
      {"--archive", zip.string(), "--output", (dir_ / "out").string(), "--resolution", "256",
       "--aspect-buckets", "true", "--crop-based-on-salience", "false", "--max-pixels",
       "200000"},
      dir_ / "stderr.txt");
  EXPECT_EQ(run.exit_code, 0) << ReadFileBytes(dir_ / "stderr.txt");
  const absl::StatusOr<Manifest> manifest =
      ParseManifest(ReadFileBytes(dir_ / "out/manifest.json"));
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  ASSERT_EQ(manifest->images.size(), 1u);  // wide.png has 204,800 pixels
  EXPECT_EQ(manifest->images[0].source, "tall.png");
  EXPECT_EQ(manifest->images[0].width, 192);
  EXPECT_EQ(manifest->images[0].height, 320);
  EXPECT_EQ(manifest->images[0].focus, "center");
  EXPECT_EQ(manifest->buckets.size(), 3u);

  const RunResult no_cascade = RunPreprocess(
      {"--archive", zip.string(), "--output", (dir_ / "faces").string(),
       "--use-face-detection-instead", "true", "--face-cascade", (dir_ / "none.xml").string()},
      dir_ / "stderr.txt");
  EXPECT_EQ(no_cascade.exit_code, 2);
  const std::vector<nlohmann::json> events = ParseLines(no_cascade);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_THAT(events[0]["message"].get<std::string>(), HasSubstr("none.xml"));

  const RunResult bad_bool = RunPreprocess(
      {"--archive", zip.string(), "--output", (dir_ / "x").string(), "--aspect-buckets",
       "maybe"},
      dir_ / "stderr.txt");
  EXPECT_EQ(bad_bool.exit_code, 2);
}

TEST_F(PreprocessMainTest, ArchiveWithoutImagesExitsTwoWithUserError) {
  const fs::path zip = dir_ / "data.zip";
  WriteZip(zip, {{.name = "notes.pdf", .data = "hello"}});
  const RunResult run = RunPreprocess(
      {"--archive", zip.string(), "--output", (dir_ / "out").string()}, dir_ / "stderr.txt");
  EXPECT_EQ(run.exit_code, 2);
  const std::vector<nlohmann::json> events = ParseLines(run);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back()["event"], "error");
  EXPECT_EQ(events.back()["class"], "user");
  EXPECT_THAT(events.back()["message"].get<std::string>(), HasSubstr("contains no images"));
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST_F(PreprocessMainTest, NonZipExitsTwo) {
  const fs::path fake = dir_ / "data.zip";
  testing::WriteFileBytes(fake, "plain text");
  const RunResult run = RunPreprocess(
      {"--archive", fake.string(), "--output", (dir_ / "out").string()}, dir_ / "stderr.txt");
  EXPECT_EQ(run.exit_code, 2);
  const std::vector<nlohmann::json> events = ParseLines(run);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_THAT(events[0]["message"].get<std::string>(), HasSubstr("is not a zip or tar archive"));
}

TEST_F(PreprocessMainTest, BadCommandLineExitsTwoWithJsonError) {
  const RunResult run = RunPreprocess({"--output", (dir_ / "out").string()}, dir_ / "stderr.txt");
  EXPECT_EQ(run.exit_code, 2);
  const std::vector<nlohmann::json> events = ParseLines(run);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["event"], "error");
  EXPECT_EQ(events[0]["class"], "user");
  EXPECT_THAT(events[0]["message"].get<std::string>(), HasSubstr("--archive"));
}

TEST_F(PreprocessMainTest, HelpShowsAnExample) {
  const RunResult run = RunPreprocess({"--help"}, dir_ / "stderr.txt");
  EXPECT_EQ(run.exit_code, 0);
  std::string text;
  for (const std::string& line : run.lines) text += line + "\n";
  EXPECT_THAT(text, HasSubstr("Example"));
  EXPECT_THAT(text, HasSubstr("--archive data.zip"));
  for (const char* flag : {"--crop-based-on-salience", "--use-face-detection-instead",
                           "--aspect-buckets", "--max-pixels", "--face-cascade"}) {
    EXPECT_THAT(text, HasSubstr(flag));
  }
}

}  // namespace
}  // namespace easel::preprocess
