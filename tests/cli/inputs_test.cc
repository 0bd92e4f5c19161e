#include "cli/inputs.h"

#include "gtest/gtest.h"

namespace easel::cli {
namespace {

absl::StatusOr<std::string> NoUpload(const std::string& path) {
  return absl::InternalError("unexpected upload of " + path);
}

TEST(ParseInputsTest, JsonValuesAreDecodedAndTheRestAreStrings) {
  auto input = ParseInputs({"max_train_steps=30", "learning_rate=1e-4", "flag=true",
                            "caption_prefix=a photo of TOK", "token_string=TOK", "empty="},
                           NoUpload);
  ASSERT_TRUE(input.ok()) << input.status();
  const auto& fields = input->fields();
  EXPECT_EQ(fields.at("max_train_steps").number_value(), 30);
  EXPECT_DOUBLE_EQ(fields.at("learning_rate").number_value(), 1e-4);
  EXPECT_TRUE(fields.at("flag").bool_value());
  EXPECT_EQ(fields.at("caption_prefix").string_value(), "a photo of TOK");
  EXPECT_EQ(fields.at("token_string").string_value(), "TOK");
  EXPECT_EQ(fields.at("empty").string_value(), "");
}

TEST(ParseInputsTest, AtPathUploadsTheFile) {
  std::string uploaded;
  auto input = ParseInputs({"input_images=@photos.zip"}, [&](const std::string& path) {
    uploaded = path;
    return absl::StatusOr<std::string>("datasets/abc");
  });
  ASSERT_TRUE(input.ok());
  EXPECT_EQ(uploaded, "photos.zip");
  EXPECT_EQ(input->fields().at("input_images").string_value(), "datasets/abc");
}

TEST(ParseInputsTest, UploadErrorsAndMalformedArgumentsAreReported) {
  auto failed = ParseInputs({"input_images=@missing.zip"}, [](const std::string&) {
    return absl::StatusOr<std::string>(absl::NotFoundError("missing.zip: no such file"));
  });
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kNotFound);
  auto malformed = ParseInputs({"max_train_steps"}, NoUpload);
  EXPECT_EQ(malformed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(malformed.status().message().find("max_train_steps"), absl::string_view::npos);
}

}  // namespace
}  // namespace easel::cli
