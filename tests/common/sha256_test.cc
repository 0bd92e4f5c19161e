#include "common/sha256.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace easel {
namespace {

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, IncrementalEqualsOneShot) {
  Sha256 sha;
  sha.Update("a");
  sha.Update("bc");
  EXPECT_EQ(sha.Hex(), Sha256Hex("abc"));
}

TEST(Sha256Test, FileDigestAndMissingFile) {
  auto path = std::filesystem::temp_directory_path() / "easel_sha256_test.bin";
  { std::ofstream(path, std::ios::binary) << "abc"; }
  auto digest = Sha256OfFile(path);
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ(*digest, Sha256Hex("abc"));
  std::filesystem::remove(path);
  EXPECT_EQ(Sha256OfFile(path).status().code(), absl::StatusCode::kNotFound);
}

TEST(Sha256Test, IsSha256Hex) {
  EXPECT_TRUE(IsSha256Hex(Sha256Hex("x")));
  EXPECT_FALSE(IsSha256Hex("abc"));
  EXPECT_FALSE(IsSha256Hex(std::string(64, 'G')));
}

}  // namespace
}  // namespace easel
