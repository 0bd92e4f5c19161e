#include "trainer/methods/lora_training.h"

#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/remove_tree.h"
#include "tests/trainer/data/dataset_fixture.h"
#include "trainer/data/prepared_dataset.h"
#include "trainer/models/diffusers_model.h"

namespace easel::methods {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<TrainingSpec> Parse(const std::string& text) {
  return ParseTrainingSpec(nlohmann::json::parse(text));
}

TEST(TrainingSpecTest, Defaults) {
  auto spec = Parse(R"({"method": "lora", "max_train_steps": 30, "lora_rank": 8})");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->max_train_steps, 30);
  EXPECT_EQ(spec->lora_rank, 8);
  EXPECT_EQ(spec->lora_alpha, 8);  // alpha defaults to the rank
  EXPECT_EQ(spec->train_batch_size, 1);
  EXPECT_EQ(spec->progress_every, 1);
  EXPECT_EQ(spec->lr_warmup_steps, 0);
  EXPECT_TRUE(spec->masked_loss);
  EXPECT_THAT(spec->TriggerTokens(), ElementsAre("TOK"));

  auto minimal = Parse(R"({"method": "lora"})");
  ASSERT_TRUE(minimal.ok()) << minimal.status();
  EXPECT_EQ(minimal->max_train_steps, 1000);
  EXPECT_EQ(minimal->lora_rank, 16);
  EXPECT_EQ(minimal->lora_alpha, 16);
  EXPECT_EQ(minimal->learning_rate, 1e-4);
}

TEST(TrainingSpecTest, ReadsEveryField) {
  auto spec = Parse(R"({"method": "lora", "max_train_steps": 100, "learning_rate": 0.0005,
      "lora_rank": 16, "lora_alpha": 8, "train_batch_size": 2, "resolution": 512, "seed": 7,
      "lr_warmup_steps": 10, "token_string": "sks, zwx", "progress_every": 5,
      "lora_target_modules": ["to_q", "to_v"], "lora_format": "kohya", "clip_skip": 1,
      "mixed_precision": "bf16", "masked_loss": false, "caption_prefix": "x"})");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->learning_rate, 0.0005);
  EXPECT_EQ(spec->lora_alpha, 8);
  EXPECT_EQ(spec->train_batch_size, 2);
  EXPECT_EQ(spec->resolution, 512);
  EXPECT_EQ(spec->seed, 7u);
  EXPECT_EQ(spec->lr_warmup_steps, 10);
  EXPECT_EQ(spec->progress_every, 5);
  EXPECT_THAT(spec->lora_target_modules, ElementsAre("to_q", "to_v"));
  EXPECT_EQ(spec->lora_format, "kohya");
  EXPECT_EQ(spec->clip_skip, 1);
  EXPECT_EQ(spec->mixed_precision, "bf16");
  EXPECT_FALSE(spec->masked_loss);
  EXPECT_THAT(spec->TriggerTokens(), ElementsAre("sks", "zwx"));
  EXPECT_THAT(spec->unknown_fields, ElementsAre("caption_prefix"));
}

TEST(TrainingSpecTest, InvalidValuesNameTheField) {
  struct Case {
    const char* field;
    nlohmann::json value;
  };
  for (const Case& c : {Case{"method", "dreambooth-ish"}, Case{"max_train_steps", -5},
                        Case{"max_train_steps", 0}, Case{"max_train_steps", 2.5},
                        Case{"learning_rate", 0}, Case{"learning_rate", "fast"},
                        Case{"lora_rank", 0}, Case{"lora_rank", 257}, Case{"lora_alpha", -1},
                        Case{"train_batch_size", 0}, Case{"resolution", 500},
                        Case{"seed", -1}, Case{"lr_warmup_steps", -1},
                        Case{"token_string", 3}, Case{"progress_every", 0},
                        Case{"lora_target_modules", nlohmann::json::array()},
                        Case{"mixed_precision", "fp8"}, Case{"mixed_precision", true},
                        Case{"lora_format", "safetensors"}, Case{"lora_format", 1},
                        Case{"clip_skip", -1}, Case{"clip_skip", 1.5},
                        Case{"masked_loss", "yes"}, Case{"masked_loss", 1}}) {
    nlohmann::json json = {{"method", "lora"}, {"max_train_steps", 10}};
    json[c.field] = c.value;
    auto spec = ParseTrainingSpec(json);
    ASSERT_FALSE(spec.ok()) << c.field << "=" << c.value.dump();
    EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(spec.status().message()), HasSubstr(c.field));
  }
  EXPECT_FALSE(ParseTrainingSpec(nlohmann::json::array()).ok());
}

TEST(TrainingSpecTest, WarmupRampsLinearlyThenHolds) {
  TrainingSpec spec;
  spec.learning_rate = 1e-3;
  spec.lr_warmup_steps = 4;
  EXPECT_DOUBLE_EQ(LearningRateAt(spec, 1), 2.5e-4);
  EXPECT_DOUBLE_EQ(LearningRateAt(spec, 2), 5e-4);
  EXPECT_DOUBLE_EQ(LearningRateAt(spec, 4), 1e-3);
  EXPECT_DOUBLE_EQ(LearningRateAt(spec, 100), 1e-3);
  spec.lr_warmup_steps = 0;
  EXPECT_DOUBLE_EQ(LearningRateAt(spec, 1), 1e-3);
}

// A tiny base model of `kPreset` (fixed seed) and a few synthetic images, shared by the
// training tests of one suite.
template <models::TinyPreset kPreset>
class TinyModelTest : public ::testing::Test {
 protected:
  static constexpr int kImages = 4;
  static constexpr int kResolution = 32;

  static void SetUpTestSuite() {
    const char* tag = kPreset == models::TinyPreset::kTiny ? "tiny" : "tiny-sdxl";
    root_ = new std::filesystem::path(data::testing::FreshTempDir(tag));
    ASSERT_TRUE(models::SaveTinyModel(*root_ / "model", 1234, kPreset).ok());
    data::testing::WriteSyntheticDataset(*root_ / "dataset", kImages, kResolution);
  }
  static void TearDownTestSuite() {
    easel::RemoveTree(*root_).IgnoreError();
    delete root_;
  }

  void SetUp() override {
    auto model = models::LoadDiffusersModel(*root_ / "model");
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *std::move(model);
    auto dataset = data::LoadPreparedDataset(*root_ / "dataset");
    ASSERT_TRUE(dataset.ok()) << dataset.status();
    dataset_ = *std::move(dataset);
  }

  static inline std::filesystem::path* root_ = nullptr;
  models::DiffusersModel model_;
  data::PreparedDataset dataset_;
};

using LoraTrainingTest = TinyModelTest<models::TinyPreset::kTiny>;

// Measured (60 steps, lr 5e-3, batch 2, 32x32 images): the loss fell from about 1.12 to
// 0.78-0.83 (26-30% lower) for training seeds 1-5 and tiny-model seeds 1, 7, 99, 1234; at lr
// 1e-3 it fell only 3% in 60 steps. The test asks for 15%.
TEST_F(LoraTrainingTest, TrainerLearns) {
  TrainingSpec spec;
  spec.max_train_steps = 60;
  spec.learning_rate = 5e-3;
  spec.train_batch_size = 2;
  spec.lora_rank = 4;
  spec.seed = 3;
  auto schedule = sampling::NoiseSchedule::FromConfig(model_.scheduler_config);
  ASSERT_TRUE(schedule.ok());
  auto encoded = EncodeDataset(model_, dataset_, 0, spec.seed, torch::kCPU);
  ASSERT_TRUE(encoded.ok()) << encoded.status();

  // Every image at several fixed timesteps, with fixed noise.
  const std::vector<int64_t> kTimesteps = {50, 250, 500, 750, 950};
  const int64_t repeats = static_cast<int64_t>(kTimesteps.size());
  ASSERT_EQ(encoded->buckets.size(), 1u);  // one size: rows in manifest order
  torch::Tensor latents = encoded->buckets[0].latents.repeat_interleave(repeats, 0);
  TextConditioning text = encoded->text.RepeatInterleave(repeats);
  torch::Tensor timesteps = torch::tensor(kTimesteps, torch::kLong).repeat({kImages});
  at::Generator generator = at::detail::createCPUGenerator(99);
  torch::Tensor noise = torch::randn(latents.sizes(), generator, torch::kFloat32);

  std::map<std::string, torch::Tensor> base_weights;
  for (const auto& item : model_.unet->named_parameters()) {
    base_weights[item.key()] = item.value().detach().clone();
  }
  auto before = MeanDenoisingLoss(model_.unet, *schedule, latents, text, timesteps, noise);
  ASSERT_TRUE(before.ok()) << before.status();
  std::vector<ProgressEvent> events;
  auto result = TrainLora(model_, dataset_, spec,
                          {.on_progress = [&](const ProgressEvent& e) { events.push_back(e); }},
                          torch::kCPU);
  ASSERT_TRUE(result.ok()) << result.status();
  auto after = MeanDenoisingLoss(model_.unet, *schedule, latents, text, timesteps, noise);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_LE(*after, 0.85 * *before) << "before " << *before << " after " << *after;

  EXPECT_EQ(result->steps, 60);
  ASSERT_EQ(events.size(), 60u);
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].step, static_cast<int64_t>(i) + 1);
    EXPECT_EQ(events[i].total, 60);
    EXPECT_DOUBLE_EQ(events[i].lr, 5e-3);
    EXPECT_GE(events[i].eta_s, 0);
  }
  EXPECT_EQ(events.back().eta_s, 0);
  EXPECT_DOUBLE_EQ(result->final_loss, events.back().loss);
  for (const auto& [name, before_value] : base_weights) {
    EXPECT_TRUE(torch::equal(*model_.unet->named_parameters().find(name), before_value)) << name;
  }
}

// The stored input repeats a training: the same seed gives the same adapters, whatever the
// process drew from torch's default generators before.
TEST_F(LoraTrainingTest, SameSeedGivesTheSameWeights) {
  TrainingSpec spec;
  spec.max_train_steps = 3;
  spec.lora_rank = 2;
  spec.seed = 5;
  auto lora_weights = [&](uint64_t unrelated_seed) {
    torch::manual_seed(unrelated_seed);
    torch::rand({7});
    auto model = models::LoadDiffusersModel(*root_ / "model");
    EXPECT_TRUE(model.ok()) << model.status();
    auto result = TrainLora(*model, dataset_, spec, {}, torch::kCPU);
    EXPECT_TRUE(result.ok()) << result.status();
    std::map<std::string, torch::Tensor> weights;
    for (const auto& item : model->unet->named_parameters()) {
      if (item.key().find("lora") != std::string::npos) weights[item.key()] = item.value();
    }
    return weights;
  };
  const auto first = lora_weights(1);
  const auto second = lora_weights(2);
  ASSERT_FALSE(first.empty());
  ASSERT_EQ(first.size(), second.size());
  for (const auto& [name, value] : first) {
    EXPECT_TRUE(torch::equal(value, second.at(name))) << name;
  }
}

TEST_F(LoraTrainingTest, ProgressEveryThinsEventsButKeepsTheLast) {
  TrainingSpec spec;
  spec.max_train_steps = 7;
  spec.progress_every = 3;
  spec.lr_warmup_steps = 2;
  spec.lora_rank = 4;
  spec.lora_alpha = 8;
  std::vector<ProgressEvent> events;
  std::vector<std::string> logs;
  auto result = TrainLora(model_, dataset_, spec,
                          {.on_progress = [&](const ProgressEvent& e) { events.push_back(e); },
                           .on_log = [&](const std::string& m) { logs.push_back(m); }},
                          torch::kCPU);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].step, 3);
  EXPECT_EQ(events[1].step, 6);
  EXPECT_EQ(events[2].step, 7);
  EXPECT_FALSE(logs.empty());
  EXPECT_EQ(result->info.rank, 4);
  EXPECT_EQ(result->info.alpha, 8);
  EXPECT_EQ(result->info.trigger_phrase, "TOK");
}

TEST_F(LoraTrainingTest, DivergingLossStopsWithAnErrorNamingTheLearningRate) {
  TrainingSpec spec;
  spec.max_train_steps = 20;
  spec.learning_rate = 1e30;
  int progress = 0;
  auto result = TrainLora(model_, dataset_, spec,
                          {.on_progress = [&](const ProgressEvent&) { ++progress; }},
                          torch::kCPU);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("learning_rate"));
  EXPECT_LT(progress, 20);
}

TEST_F(LoraTrainingTest, ResolutionOtherThanTheDatasetsResizesImages) {
  auto encoded = EncodeDataset(model_, dataset_, 16, 0, torch::kCPU);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  ASSERT_EQ(encoded->buckets.size(), 1u);
  EXPECT_EQ(encoded->buckets[0].width, 16);
  EXPECT_EQ(encoded->buckets[0].latents.sizes(), torch::IntArrayRef({kImages, 4, 8, 8}));
  EXPECT_EQ(encoded->text.hidden_states.sizes(), torch::IntArrayRef({kImages, 77, 32}));
  EXPECT_FALSE(encoded->text.text_embeds.defined());
  EXPECT_TRUE(torch::isfinite(encoded->buckets[0].latents).all().item<bool>());
}

TEST_F(LoraTrainingTest, ClipSkipConditionsOnAnEarlierLayerThroughTheFinalLayerNorm) {
  auto usual = EncodeDataset(model_, dataset_, 0, 0, torch::kCPU);
  auto skipped = EncodeDataset(model_, dataset_, 0, 0, torch::kCPU, /*clip_skip=*/1);
  ASSERT_TRUE(usual.ok()) << usual.status();
  ASSERT_TRUE(skipped.ok()) << skipped.status();

  torch::NoGradGuard no_grad;
  torch::Tensor ids = torch::tensor(model_.tokenizer->EncodePadded(dataset_.images[0].caption, 77),
                                    torch::kLong)
                          .unsqueeze(0);
  models::CLIPTextOutput output = model_.text_encoder->forward(ids);
  const size_t layers = output.hidden_states.size();
  torch::Tensor expected =
      model_.text_encoder->final_layer_norm()->forward(output.hidden_states[layers - 2]);
  EXPECT_TRUE(torch::allclose(skipped->text.hidden_states[0], expected[0], 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(usual->text.hidden_states[0], output.last_hidden_state[0], 1e-5,
                              1e-6));
  EXPECT_FALSE(torch::allclose(skipped->text.hidden_states, usual->text.hidden_states));

  auto too_far = EncodeDataset(model_, dataset_, 0, 0, torch::kCPU,
                               model_.text_encoder->config().num_hidden_layers);
  ASSERT_FALSE(too_far.ok());
  EXPECT_EQ(too_far.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(too_far.status().message()), HasSubstr("clip_skip"));
}

// The same training on the SDXL layout: two text encoders (penultimate hidden states
// concatenated), pooled text embeds and time ids through the text_time addition embedding.
class SdxlLoraTrainingTest : public TinyModelTest<models::TinyPreset::kTinySdxl> {
 protected:
  // Mean denoising loss over every image at fixed timesteps and noise.
  double FixedLoss(const EncodedDataset& encoded) {
    const std::vector<int64_t> kTimesteps = {50, 250, 500, 750, 950};
    const int64_t repeats = static_cast<int64_t>(kTimesteps.size());
    torch::Tensor latents = encoded.buckets.at(0).latents.repeat_interleave(repeats, 0);
    at::Generator generator = at::detail::createCPUGenerator(99);
    auto schedule = sampling::NoiseSchedule::FromConfig(model_.scheduler_config);
    EXPECT_TRUE(schedule.ok());
    auto loss = MeanDenoisingLoss(model_.unet, *schedule, latents,
                                  encoded.text.RepeatInterleave(repeats),
                                  torch::tensor(kTimesteps, torch::kLong).repeat({kImages}),
                                  torch::randn(latents.sizes(), generator, torch::kFloat32));
    EXPECT_TRUE(loss.ok()) << loss.status();
    return loss.ok() ? *loss : 0;
  }
};

TEST_F(SdxlLoraTrainingTest, EncodesBothTextEncodersPooledEmbedsAndTimeIds) {
  auto encoded = EncodeDataset(model_, dataset_, 0, 0, torch::kCPU);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  const int64_t both = models::TinyTextEncoderConfig().hidden_size +
                       models::TinySdxlTextEncoder2Config().hidden_size;
  EXPECT_EQ(encoded->text.hidden_states.sizes(), torch::IntArrayRef({kImages, 77, both}));
  EXPECT_EQ(encoded->text.text_embeds.sizes(),
            torch::IntArrayRef({kImages, models::TinySdxlTextEncoder2Config().projection_dim}));
  ASSERT_EQ(encoded->text.time_ids.sizes(), torch::IntArrayRef({kImages, 6}));
  EXPECT_TRUE(torch::equal(encoded->text.time_ids[0],
                           torch::tensor({32.0f, 32.0f, 0.0f, 0.0f, 32.0f, 32.0f})));
}

// Measured (60 steps, lr 5e-3, batch 2, rank 4, tiny-sdxl seed 1234): the loss fell from about
// 1.087 to 0.763-0.777 (29-30% lower) for training seeds 3, 5 and 11. The test asks for 15%,
// like the SD 1.x test.
TEST_F(SdxlLoraTrainingTest, TrainerLearns) {
  TrainingSpec spec;
  spec.max_train_steps = 60;
  spec.learning_rate = 5e-3;
  spec.train_batch_size = 2;
  spec.lora_rank = 4;
  spec.seed = 3;
  auto encoded = EncodeDataset(model_, dataset_, 0, spec.seed, torch::kCPU);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  const double before = FixedLoss(*encoded);
  auto result = TrainLora(model_, dataset_, spec, {}, torch::kCPU);
  ASSERT_TRUE(result.ok()) << result.status();
  const double after = FixedLoss(*encoded);
  EXPECT_LE(after, 0.85 * before) << "before " << before << " after " << after;
}

TEST_F(SdxlLoraTrainingTest, MixedPrecisionKeepsAdaptersInFloat32) {
  TrainingSpec spec;
  spec.max_train_steps = 3;
  spec.lora_rank = 2;
  spec.mixed_precision = "bf16";
  auto result = TrainLora(model_, dataset_, spec, {}, torch::kCPU);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(std::isfinite(result->final_loss));
  int adapters = 0;
  for (const auto& item : model_.unet->named_parameters()) {
    const bool adapter = item.key().find("lora_") != std::string::npos;
    EXPECT_EQ(item.value().scalar_type(), adapter ? torch::kFloat32 : torch::kBFloat16)
        << item.key();
    adapters += adapter;
  }
  EXPECT_GT(adapters, 0);
}

}  // namespace
}  // namespace easel::methods
