#include "trainer/models/weights.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/remove_tree.h"
#include "trainer/models/lora_compatible_linear.h"

namespace easel::models {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class WeightsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("weights_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { easel::RemoveTree(dir_).IgnoreError(); }
  std::filesystem::path dir_;
};

struct Pair : torch::nn::Module {
  Pair() {
    first = register_module("first", LoraCompatibleLinear(3, 2));
    second = register_module("second", LoraCompatibleLinear(2, 2, false));
    register_buffer("running", torch::zeros({2}));
  }
  LoraCompatibleLinear first{nullptr}, second{nullptr};
};

TEST_F(WeightsTest, SafetensorsRoundTripKeepsDtypesAndValues) {
  std::map<std::string, torch::Tensor> tensors = {
      {"f32", torch::randn({2, 3})},
      {"f16", torch::randn({4}).to(torch::kFloat16)},
      {"bf16", torch::randn({2, 2}).to(torch::kBFloat16)},
      {"strided", torch::randn({3, 4}).t()},
      {"i64", torch::arange(5, torch::kLong)},
  };
  auto path = dir_ / "w.safetensors";
  ASSERT_TRUE(SaveSafetensors(path, tensors, {{"format", "pt"}}).ok());
  auto loaded = LoadSafetensors(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), tensors.size());
  for (const auto& [name, tensor] : tensors) {
    ASSERT_TRUE(loaded->count(name)) << name;
    EXPECT_EQ(loaded->at(name).scalar_type(), tensor.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(loaded->at(name), tensor)) << name;
  }
}

TEST_F(WeightsTest, LoadStateDictCopiesConvertsAndListsExtras) {
  Pair source, target;
  auto state = StateDict(source);
  EXPECT_THAT([&] {
    std::vector<std::string> names;
    for (const auto& [name, tensor] : state) names.push_back(name);
    return names;
  }(), ElementsAre("first.bias", "first.weight", "running", "second.weight"));
  std::map<std::string, torch::Tensor> half;
  for (const auto& [name, tensor] : state) half[name] = tensor.to(torch::kFloat16);
  half["unused.weight"] = torch::zeros({1});
  target.first->EnableLora(1, 1.0);  // adapters are not required
  std::vector<std::string> extra;
  ASSERT_TRUE(LoadStateDict(target, half, "test model", &extra).ok());
  EXPECT_THAT(extra, ElementsAre("unused.weight"));
  EXPECT_EQ(target.first->weight.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(target.first->weight, half["first.weight"].to(torch::kFloat32)));
}

TEST_F(WeightsTest, MissingOrMisshapenTensorIsNamed) {
  Pair model;
  auto state = StateDict(model);
  state.erase("second.weight");
  auto status = LoadStateDict(model, state, "the unet");
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("second.weight"));
  EXPECT_THAT(status.message(), HasSubstr("the unet"));

  state = StateDict(model);
  state["first.weight"] = torch::zeros({3, 3});
  status = LoadStateDict(model, state, "the unet");
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("first.weight"));
  EXPECT_THAT(status.message(), HasSubstr("[3,3]"));
}

TEST_F(WeightsTest, LoadingAMissingFileFails) {
  auto loaded = LoadSafetensors(dir_ / "absent.safetensors");
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), HasSubstr("absent.safetensors"));
}

}  // namespace
}  // namespace easel::models
