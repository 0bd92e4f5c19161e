#ifndef EASEL_TESTS_TRAINER_EMBEDDINGS_TINY_TEXT_MODELS_H_
#define EASEL_TESTS_TRAINER_EMBEDDINGS_TINY_TEXT_MODELS_H_

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/remove_tree.h"
#include "trainer/models/diffusers_model.h"
#include "trainer/tokenizer/clip_tokenizer.h"

namespace easel::embeddings::testing {

// A per-test temporary directory, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("embeddings_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    easel::RemoveTree(path_).IgnoreError();
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { easel::RemoveTree(path_).IgnoreError(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The text side of the tiny presets: byte-level tokenizer(s) (514 ids) and text encoder(s)
// initialised from `seed`, so two calls with one seed give equal models. text_encoder is 32
// wide; SDXL's text_encoder_2 is made 48 wide so that clip_l and clip_g cannot be swapped
// unnoticed.
constexpr int64_t kWidth = 32;
constexpr int64_t kWidth2 = 48;

inline models::CLIPTextConfig TextEncoder2Config() {
  models::CLIPTextConfig config = models::TinySdxlTextEncoder2Config();
  config.hidden_size = kWidth2;
  config.intermediate_size = 2 * kWidth2;
  return config;
}

inline models::DiffusersModel TinyTextModel(const std::filesystem::path& dir, uint64_t seed,
                                            bool sdxl) {
  models::DiffusersModel model;
  EXPECT_TRUE(tokenizer::WriteByteLevelTokenizer(dir / "tokenizer").ok());
  auto load_tokenizer = [&] {
    auto tokenizer = tokenizer::CLIPTokenizer::FromDirectory(dir / "tokenizer");
    EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
    return std::make_shared<tokenizer::CLIPTokenizer>(*std::move(tokenizer));
  };
  torch::manual_seed(seed);
  model.tokenizer = load_tokenizer();
  model.text_encoder = models::CLIPTextModel(models::TinyTextEncoderConfig());
  if (sdxl) {
    model.tokenizer_2 = load_tokenizer();
    model.text_encoder_2 = models::CLIPTextModel(TextEncoder2Config());
  }
  return model;
}

// Padded ids of a prompt as a [1, 77] tensor.
inline torch::Tensor PromptIds(const tokenizer::CLIPTokenizer& tokenizer, const std::string& prompt) {
  return torch::tensor(tokenizer.EncodePadded(prompt, 77), torch::kLong).unsqueeze(0);
}

}  // namespace easel::embeddings::testing

#endif  // EASEL_TESTS_TRAINER_EMBEDDINGS_TINY_TEXT_MODELS_H_
