#include "common/base_model_resolution.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "common/remove_tree.h"
#include "gtest/gtest.h"

namespace easel {
namespace {

namespace fs = std::filesystem;

class BaseModelResolutionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("easel-resolution-" + std::to_string(getpid()));
    fs::create_directories(dir_ / "vae");
  }
  void TearDown() override { RemoveTree(dir_).IgnoreError(); }

  void WriteVaeConfig(const std::string& json) { std::ofstream(dir_ / "vae" / "config.json") << json; }

  fs::path dir_;
};

TEST_F(BaseModelResolutionTest, IsTheVaeSampleSize) {
  WriteVaeConfig(R"({"_class_name": "AutoencoderKL", "sample_size": 1024})");
  EXPECT_EQ(BaseModelResolution(dir_), 1024);
}

TEST_F(BaseModelResolutionTest, FallsBackWhenTheConfigIsMissingOrUnusable) {
  EXPECT_EQ(BaseModelResolution(dir_), kFallbackResolution);
  EXPECT_EQ(BaseModelResolution(dir_ / "nonexistent"), kFallbackResolution);
  for (const char* json : {"not json", R"({"sample_size": "big"})", R"({"sample_size": -8})",
                           R"([1, 2])"}) {
    WriteVaeConfig(json);
    EXPECT_EQ(BaseModelResolution(dir_), kFallbackResolution) << json;
  }
}

}  // namespace
}  // namespace easel
