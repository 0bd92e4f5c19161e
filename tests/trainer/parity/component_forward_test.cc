// Replays the golden cases that tools/parity.py wrote from diffusers / transformers: tiny
// configurations of every model, their weights, inputs and the reference library's outputs.

#include "trainer/parity/component_forward.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "trainer/models/weights.h"

namespace easel::parity {
namespace {

using ::testing::HasSubstr;

std::filesystem::path GoldenRoot() {
  const char* source = std::getenv("EASEL_SOURCE_DIR");
  return std::filesystem::path(source != nullptr ? source : ".") / "tests" / "data" / "parity";
}

std::filesystem::path ScratchDir() {
  auto dir = std::filesystem::temp_directory_path() /
             ("easel-parity-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

double RelativeError(const torch::Tensor& ours, const torch::Tensor& expected) {
  const double scale = expected.abs().max().item<double>();
  return (ours - expected).abs().max().item<double>() / std::max(scale, 1e-30);
}

class GoldenCaseTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenCaseTest, MatchesTheReferenceLibrary) {
  const std::filesystem::path dir = GoldenRoot() / GetParam();
  std::ifstream case_file(dir / "case.json");
  ASSERT_TRUE(case_file) << "missing " << (dir / "case.json");
  const nlohmann::json info = nlohmann::json::parse(case_file);
  const std::filesystem::path output = ScratchDir() / (GetParam() + ".safetensors");

  absl::Status status = RunComponentForward({.component = info.at("component"),
                                             .dir = dir,
                                             .inputs = dir / "inputs.safetensors",
                                             .output = output});
  ASSERT_TRUE(status.ok()) << status;

  auto ours = models::LoadSafetensors(output);
  auto expected = models::LoadSafetensors(dir / "expected.safetensors");
  ASSERT_TRUE(ours.ok()) << ours.status();
  ASSERT_TRUE(expected.ok()) << expected.status();
  ASSERT_FALSE(expected->empty());
  for (const auto& [name, reference] : *expected) {
    auto it = ours->find(name);
    ASSERT_NE(it, ours->end()) << "no output " << name;
    ASSERT_EQ(it->second.sizes(), reference.sizes()) << name;
    EXPECT_LE(RelativeError(it->second, reference), info.at("tolerance").get<double>()) << name;
  }
  std::filesystem::remove(output);
}

std::vector<std::string> GoldenCases() {
  std::vector<std::string> names;
  std::error_code missing;
  for (const auto& entry : std::filesystem::directory_iterator(GoldenRoot(), missing)) {
    if (std::filesystem::exists(entry.path() / "case.json")) {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

INSTANTIATE_TEST_SUITE_P(Parity, GoldenCaseTest, ::testing::ValuesIn(GoldenCases()),
                         [](const auto& info) { return info.param; });

TEST(GoldenCasesTest, EveryArchitectureHasACase) {
  EXPECT_THAT(GoldenCases(),
              ::testing::IsSupersetOf({"tiny_sd15_unet", "tiny_sd21_unet", "tiny_sdxl_unet",
                                       "tiny_clip", "tiny_clip_projection", "tiny_vae"}));
}

TEST(ComponentForwardTest, NamesTheMissingInputTensor) {
  const std::filesystem::path dir = GoldenRoot() / "tiny_sdxl_unet";
  auto inputs = models::LoadSafetensors(dir / "inputs.safetensors");
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  inputs->erase("time_ids");
  const auto scratch = ScratchDir();
  ASSERT_TRUE(models::SaveSafetensors(scratch / "partial.safetensors", *inputs).ok());
  absl::Status status = RunComponentForward({.component = "unet",
                                             .dir = dir,
                                             .inputs = scratch / "partial.safetensors",
                                             .output = scratch / "out.safetensors"});
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("time_ids"));
}

TEST(ComponentForwardTest, RefusesAnUnknownComponentAndDtype) {
  const std::filesystem::path dir = GoldenRoot() / "tiny_clip";
  absl::Status status = RunComponentForward({.component = "decoder",
                                             .dir = dir,
                                             .inputs = dir / "inputs.safetensors",
                                             .output = ScratchDir() / "out.safetensors"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("--component"));
  status = RunComponentForward({.component = "text_encoder",
                                .dir = dir,
                                .inputs = dir / "inputs.safetensors",
                                .output = ScratchDir() / "out.safetensors",
                                .dtype = "int8"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("--dtype"));
}

TEST(ComponentForwardTest, RandomLoraAdaptsTheTargetsItIsGiven) {
  const std::filesystem::path dir = GoldenRoot() / "tiny_sd15_unet";
  const auto scratch = ScratchDir();
  const auto lora = scratch / "random_conv_lora.safetensors";
  absl::Status status = RunComponentForward({.component = "unet",
                                             .dir = dir,
                                             .inputs = dir / "inputs.safetensors",
                                             .output = scratch / "with_lora.safetensors",
                                             .random_lora_rank = 2,
                                             .save_lora = lora,
                                             .lora_style = "kohya",
                                             .lora_targets = {"conv1", "proj_in"}});
  ASSERT_TRUE(status.ok()) << status;
  auto tensors = models::LoadSafetensors(lora);
  ASSERT_TRUE(tensors.ok()) << tensors.status();
  ASSERT_FALSE(tensors->empty());
  for (const auto& [key, tensor] : *tensors) {
    EXPECT_TRUE(key.find("_conv1.") != std::string::npos ||
                key.find("_proj_in.") != std::string::npos)
        << key;
    if (!key.ends_with(".alpha")) EXPECT_EQ(tensor.dim(), 4) << key;
  }
  EXPECT_TRUE(tensors->contains("lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight"));

  // The file applied with --lora gives the same output as the run that wrote it.
  status = RunComponentForward({.component = "unet",
                                .dir = dir,
                                .inputs = dir / "inputs.safetensors",
                                .output = scratch / "applied.safetensors",
                                .lora = lora});
  ASSERT_TRUE(status.ok()) << status;
  auto written = models::LoadSafetensors(scratch / "with_lora.safetensors");
  auto applied = models::LoadSafetensors(scratch / "applied.safetensors");
  auto expected = models::LoadSafetensors(dir / "expected.safetensors");
  ASSERT_TRUE(written.ok() && applied.ok() && expected.ok());
  EXPECT_TRUE(torch::equal(written->at("sample"), applied->at("sample")));
  EXPECT_GT(RelativeError(written->at("sample"), expected->at("sample")), 1e-3);
}

}  // namespace
}  // namespace easel::parity
