#include "coordinator/api/training_input.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "gtest/gtest.h"

namespace easel::coordinator {
namespace {

using google::protobuf::Struct;

class TrainingInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    known_sha_ = Sha256Hex("dataset");
    (*input_.mutable_fields())["input_images"].set_string_value("datasets/" + known_sha_);
  }

  absl::StatusOr<TrainingInput> Validate() {
    return ValidateTrainingInput(
        input_,
        [&](std::string_view sha) {
          return sha == known_sha_ ? absl::OkStatus() : absl::NotFoundError("no such dataset");
        },
        [] { return int64_t{777}; });
  }

  void ExpectInvalid(std::string_view field) {
    auto result = Validate();
    ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
    EXPECT_NE(result.status().message().find(std::string(field)), absl::string_view::npos) << result.status();
  }

  google::protobuf::Value& Field(const std::string& name) {
    return (*input_.mutable_fields())[name];
  }

  double Number(const TrainingInput& input, const std::string& name) {
    return input.input.fields().at(name).number_value();
  }

  std::string known_sha_;
  Struct input_;
};

TEST_F(TrainingInputTest, FillsDefaults) {
  auto result = Validate();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->dataset_sha256, known_sha_);
  EXPECT_EQ(result->input.fields().at("token_string").string_value(), "TOK");
  EXPECT_EQ(result->input.fields().at("caption_prefix").string_value(), "a photo of TOK");
  EXPECT_EQ(Number(*result, "max_train_steps"), 1000);
  EXPECT_EQ(Number(*result, "learning_rate"), 1e-4);
  EXPECT_EQ(Number(*result, "lora_rank"), 16);
  EXPECT_EQ(Number(*result, "lora_alpha"), 16);
  EXPECT_EQ(Number(*result, "train_batch_size"), 1);
  EXPECT_EQ(Number(*result, "lr_warmup_steps"), 0);
  EXPECT_EQ(Number(*result, "checkpointing_steps"), 250);
  EXPECT_EQ(Number(*result, "seed"), 777);
  EXPECT_EQ(result->input.fields().at("lora_format").string_value(), "diffusers");
  EXPECT_EQ(result->input.fields().at("mixed_precision").string_value(), "auto");
  EXPECT_EQ(Number(*result, "clip_skip"), 0);
  EXPECT_TRUE(result->input.fields().at("crop_based_on_salience").bool_value());
  EXPECT_FALSE(result->input.fields().at("use_face_detection_instead").bool_value());
  EXPECT_FALSE(result->input.fields().at("aspect_buckets").bool_value());
  EXPECT_TRUE(result->input.fields().at("masked_loss").bool_value());
  EXPECT_FALSE(result->input.fields().contains("resolution"));
}

TEST_F(TrainingInputTest, KeepsGivenValuesAndDerivesFromThem) {
  Field("token_string").set_string_value("sks");
  Field("lora_rank").set_number_value(8);
  Field("seed").set_number_value(5);
  Field("resolution").set_number_value(512);
  Field("lora_format").set_string_value("kohya");
  Field("mixed_precision").set_string_value("no");
  auto result = Validate();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->input.fields().at("caption_prefix").string_value(), "a photo of sks");
  EXPECT_EQ(result->input.fields().at("lora_format").string_value(), "kohya");
  EXPECT_EQ(result->input.fields().at("mixed_precision").string_value(), "no");
  EXPECT_EQ(Number(*result, "lora_alpha"), 8);
  EXPECT_EQ(Number(*result, "seed"), 5);
  EXPECT_EQ(Number(*result, "resolution"), 512);
}

TEST_F(TrainingInputTest, AcceptsBareDigest) {
  Field("input_images").set_string_value(known_sha_);
  auto result = Validate();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->dataset_sha256, known_sha_);
}

TEST_F(TrainingInputTest, RejectsEachBadField) {
  Field("max_train_steps").set_number_value(-5);
  ExpectInvalid("max_train_steps");
  Field("max_train_steps").set_number_value(10.5);
  ExpectInvalid("max_train_steps");
  Field("max_train_steps").set_string_value("100");
  ExpectInvalid("max_train_steps");
  input_.mutable_fields()->erase("max_train_steps");

  Field("learning_rate").set_number_value(0);
  ExpectInvalid("learning_rate");
  Field("learning_rate").set_number_value(1e-4);
  Field("lora_rank").set_number_value(300);
  ExpectInvalid("lora_rank");
  Field("lora_rank").set_number_value(4);
  Field("resolution").set_number_value(500);
  ExpectInvalid("resolution");
  Field("resolution").set_number_value(512);
  Field("token_string").set_string_value("two words");
  ExpectInvalid("token_string");
  Field("token_string").set_string_value("sks");
  Field("lr_warmup_steps").set_number_value(2000);
  ExpectInvalid("lr_warmup_steps");
  Field("lr_warmup_steps").set_number_value(10);
  Field("checkpointing_steps").set_number_value(2000);
  ExpectInvalid("checkpointing_steps");
  Field("checkpointing_steps").set_number_value(-1);
  ExpectInvalid("checkpointing_steps");
  Field("checkpointing_steps").set_number_value(100);
  Field("seed").set_number_value(-1);
  ExpectInvalid("seed");
  Field("seed").set_number_value(1);
  Field("train_batch_size").set_bool_value(true);
  ExpectInvalid("train_batch_size");
  Field("train_batch_size").set_number_value(2);
  Field("lora_format").set_string_value("ckpt");
  ExpectInvalid("lora_format");
  Field("lora_format").set_number_value(1);
  ExpectInvalid("lora_format");
  Field("lora_format").set_string_value("kohya");
  Field("mixed_precision").set_string_value("fp8");
  ExpectInvalid("mixed_precision");
  Field("mixed_precision").set_string_value("bf16");
  Field("clip_skip").set_number_value(-1);
  ExpectInvalid("clip_skip");
  Field("clip_skip").set_number_value(2);
  Field("use_face_detection_instead").set_string_value("yes");
  ExpectInvalid("use_face_detection_instead");
  Field("use_face_detection_instead").set_bool_value(true);
  Field("crop_based_on_salience").set_number_value(0);
  ExpectInvalid("crop_based_on_salience");
  Field("crop_based_on_salience").set_bool_value(false);
  Field("aspect_buckets").set_string_value("true");
  ExpectInvalid("aspect_buckets");
  Field("aspect_buckets").set_bool_value(true);
  Field("masked_loss").set_number_value(1);
  ExpectInvalid("masked_loss");
  Field("masked_loss").set_bool_value(false);
  auto result = Validate();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->input.fields().at("use_face_detection_instead").bool_value());
  EXPECT_FALSE(result->input.fields().at("crop_based_on_salience").bool_value());
  EXPECT_TRUE(result->input.fields().at("aspect_buckets").bool_value());
  EXPECT_FALSE(result->input.fields().at("masked_loss").bool_value());
}

TEST_F(TrainingInputTest, UnknownKeyListsKnownInputs) {
  Field("max_steps").set_number_value(10);
  auto result = Validate();
  ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("max_steps"), absl::string_view::npos);
  EXPECT_NE(result.status().message().find("max_train_steps"), absl::string_view::npos);
}

TEST_F(TrainingInputTest, InputImagesMustNameAnUploadedDataset) {
  input_.mutable_fields()->erase("input_images");
  ExpectInvalid("input_images");
  Field("input_images").set_string_value("photos.zip");
  ExpectInvalid("input_images");
  Field("input_images").set_string_value("datasets/" + Sha256Hex("unknown"));
  ExpectInvalid("input_images");
}

}  // namespace
}  // namespace easel::coordinator
