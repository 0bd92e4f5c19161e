#ifndef EASEL_TESTS_TRAINER_LORA_LORA_TEST_UTIL_H_
#define EASEL_TESTS_TRAINER_LORA_LORA_TEST_UTIL_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/safetensors.h"
#include "trainer/lora/lora.h"
#include "trainer/models/clip_text_model.h"
#include "trainer/models/diffusers_model.h"
#include "trainer/models/lora_compatible_linear.h"
#include "trainer/models/unet_2d_condition.h"

namespace easel::lora::testing {

using AdaptedLayers = std::map<std::string, std::shared_ptr<models::LoraCompatibleLinearImpl>>;

inline models::UNet2DConditionModel TinyUNet(uint64_t seed) {
  torch::manual_seed(seed);
  return models::UNet2DConditionModel(models::TinyUNetConfig());
}

inline models::CLIPTextModel TinyTextEncoder(
    uint64_t seed, const models::CLIPTextConfig& config = models::TinyTextEncoderConfig()) {
  torch::manual_seed(seed);
  return models::CLIPTextModel(config);
}

inline LoraOptions TextEncoderOptions(int64_t rank = 4, double alpha = 4) {
  return LoraOptions{
      .rank = rank, .alpha = alpha, .target_modules = {"q_proj", "k_proj", "v_proj", "out_proj"}};
}

// Gives every adapter non-zero, seed-dependent values so a round trip is observable.
inline void Randomize(const std::vector<NamedParameter>& parameters, uint64_t seed) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  for (const auto& p : parameters) p.parameter.normal_(0, 0.1);
}

struct UNetInputs {
  torch::Tensor sample = torch::randn({2, 4, 32, 32});
  torch::Tensor timesteps = torch::tensor({10, 700}, torch::kLong);
  torch::Tensor hidden = torch::randn({2, 77, 32});
};

inline torch::Tensor Forward(models::UNet2DConditionModel& unet, const UNetInputs& in) {
  torch::NoGradGuard no_grad;
  return unet->forward(in.sample, in.timesteps, in.hidden);
}

inline torch::Tensor Forward(models::CLIPTextModel& text_encoder) {
  torch::NoGradGuard no_grad;
  torch::Tensor ids = torch::arange(0, 77, torch::kLong).unsqueeze(0) * 5 % 512;
  ids.index_put_({0, 76}, models::TinyTextEncoderConfig().eos_token_id);
  return text_encoder->forward(ids).last_hidden_state;
}

// Module path -> layer, for the layers of `module` that carry an adapter.
inline AdaptedLayers Adapted(torch::nn::Module& module) {
  AdaptedLayers out;
  for (const auto& item : module.named_modules("", false)) {
    auto linear = std::dynamic_pointer_cast<models::LoraCompatibleLinearImpl>(item.value());
    if (linear && linear->has_lora()) out.emplace(item.key(), linear);
  }
  return out;
}

inline std::shared_ptr<models::LoraCompatibleLinearImpl> Layer(torch::nn::Module& module,
                                                               const std::string& path) {
  auto* found = module.named_modules("", false).find(path);
  if (found == nullptr) return nullptr;
  return std::dynamic_pointer_cast<models::LoraCompatibleLinearImpl>(*found);
}

// Same adapters (weights and scale) in every layer of both modules.
inline void ExpectSameAdapters(torch::nn::Module& expected, torch::nn::Module& actual) {
  AdaptedLayers want = Adapted(expected);
  AdaptedLayers got = Adapted(actual);
  ASSERT_EQ(want.size(), got.size());
  for (const auto& [path, layer] : want) {
    ASSERT_TRUE(got.contains(path)) << path;
    EXPECT_TRUE(torch::equal(layer->lora_A()->weight, got.at(path)->lora_A()->weight)) << path;
    EXPECT_TRUE(torch::equal(layer->lora_B()->weight, got.at(path)->lora_B()->weight)) << path;
    EXPECT_DOUBLE_EQ(layer->lora_scale(), got.at(path)->lora_scale()) << path;
  }
}

inline std::map<std::string, std::string> ReadMetadata(const std::filesystem::path& path) {
  auto file = safetensors::File::Open(path);
  EXPECT_TRUE(file.ok()) << file.status();
  return file.ok() ? (*file)->metadata() : std::map<std::string, std::string>{};
}

inline std::string KohyaStyle(std::string path) {
  for (char& c : path) {
    if (c == '.') c = '_';
  }
  return path;
}

}  // namespace easel::lora::testing

#endif  // EASEL_TESTS_TRAINER_LORA_LORA_TEST_UTIL_H_
