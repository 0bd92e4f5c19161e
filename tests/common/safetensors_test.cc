#include "common/safetensors.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/remove_tree.h"

namespace easel::safetensors {
namespace {

using ::testing::HasSubstr;

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("safetensors_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { easel::RemoveTree(dir_).IgnoreError(); }

  // Writes a file with the given raw header and data region.
  std::filesystem::path WriteRaw(const std::string& header, const std::string& data,
                                 uint64_t header_length_override = 0) {
    auto path = dir_ / "raw.safetensors";
    std::ofstream out(path, std::ios::binary);
    uint64_t length = header_length_override ? header_length_override : header.size();
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>((length >> (8 * i)) & 0xff));
    out << header << data;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(SafetensorsTest, RoundTripKeepsTensorsAndMetadata) {
  std::vector<float> a = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 8.0f};
  std::vector<int64_t> b = {42, -7};
  std::vector<TensorData> tensors = {
      {"z.weight", Dtype::kF32, {2, 3},
       std::string_view(reinterpret_cast<const char*>(a.data()), a.size() * sizeof(float))},
      {"a.ids", Dtype::kI64, {2},
       std::string_view(reinterpret_cast<const char*>(b.data()), b.size() * sizeof(int64_t))},
  };
  auto path = dir_ / "out.safetensors";
  ASSERT_TRUE(Write(path, tensors, {{"format", "pt"}}).ok());

  std::ifstream in(path, std::ios::binary);
  uint64_t header_length = 0;
  in.read(reinterpret_cast<char*>(&header_length), 8);
  EXPECT_EQ(header_length % 8, 0u);

  auto file = File::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->metadata().at("format"), "pt");
  ASSERT_EQ((*file)->tensors().size(), 2u);
  EXPECT_EQ((*file)->tensors()[0].name, "a.ids");
  EXPECT_EQ((*file)->tensors()[1].name, "z.weight");
  auto weight = (*file)->Get("z.weight");
  ASSERT_TRUE(weight.ok());
  EXPECT_EQ(weight->dtype, Dtype::kF32);
  EXPECT_EQ(weight->shape, (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(weight->size_bytes, a.size() * sizeof(float));
  EXPECT_EQ(std::memcmp(weight->data, a.data(), weight->size_bytes), 0);
  auto ids = (*file)->Get("a.ids");
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(std::memcmp(ids->data, b.data(), ids->size_bytes), 0);
  EXPECT_EQ((*file)->Get("missing").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SafetensorsTest, DtypeNamesRoundTrip) {
  for (Dtype dtype : {Dtype::kBool, Dtype::kU8, Dtype::kI8, Dtype::kI16, Dtype::kI32, Dtype::kI64,
                      Dtype::kF16, Dtype::kBF16, Dtype::kF32, Dtype::kF64}) {
    auto parsed = ParseDtype(DtypeName(dtype));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, dtype);
  }
  EXPECT_EQ(DtypeSize(Dtype::kBF16), 2u);
  EXPECT_FALSE(ParseDtype("F8").ok());
}

TEST_F(SafetensorsTest, TruncatedFileIsRejected) {
  std::vector<float> a(16, 1.0f);
  auto path = dir_ / "t.safetensors";
  ASSERT_TRUE(Write(path,
                    {{"w", Dtype::kF32, {16},
                      std::string_view(reinterpret_cast<const char*>(a.data()), 64)}},
                    {})
                  .ok());
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 10);
  auto file = File::Open(path);
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(file.status().message(), HasSubstr(path.string()));
  EXPECT_THAT(file.status().message(), HasSubstr("\"w\""));

  std::ofstream(dir_ / "short.safetensors") << "abc";
  EXPECT_FALSE(File::Open(dir_ / "short.safetensors").ok());
}

TEST_F(SafetensorsTest, BadHeaderLengthIsRejected) {
  auto path = WriteRaw("{}", "", /*header_length_override=*/1000);
  auto file = File::Open(path);
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(file.status().message(), HasSubstr("header length"));
  path = WriteRaw("{}", "", /*header_length_override=*/uint64_t{1} << 40);
  EXPECT_THAT(File::Open(path).status().message(), HasSubstr("exceeds"));
}

TEST_F(SafetensorsTest, OverlappingOffsetsAreRejected) {
  auto path = WriteRaw(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
      std::string(12, '\0'));
  auto file = File::Open(path);
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(file.status().message(), HasSubstr("overlaps"));
  EXPECT_THAT(file.status().message(), HasSubstr("\"b\""));
}

TEST_F(SafetensorsTest, UncoveredDataIsRejected) {
  auto path = WriteRaw(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                       std::string(12, '\0'));
  EXPECT_FALSE(File::Open(path).ok());
}

TEST_F(SafetensorsTest, WrongByteSizeForDtypeAndShapeIsRejected) {
  auto path = WriteRaw(R"({"w":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}})",
                       std::string(8, '\0'));
  auto file = File::Open(path);
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(file.status().message(), HasSubstr("\"w\""));
  EXPECT_THAT(file.status().message(), HasSubstr("F16"));
  EXPECT_THAT(file.status().message(), HasSubstr(path.string()));

  std::vector<TensorData> bad = {{"x", Dtype::kF32, {3}, std::string_view("12345678", 8)}};
  auto status = Write(dir_ / "bad.safetensors", bad, {});
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("\"x\""));
}

TEST_F(SafetensorsTest, NonJsonHeaderIsRejected) {
  auto file = File::Open(WriteRaw("not json at all", ""));
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(file.status().message(), HasSubstr("JSON"));
  EXPECT_FALSE(File::Open(WriteRaw("[1,2]", "")).ok());
  EXPECT_FALSE(File::Open(WriteRaw(R"({"__metadata__":{"k":1}})", "")).ok());
}

}  // namespace
}  // namespace easel::safetensors
