#include "trainer/worker/prepared_archive.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "common/remove_tree.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace easel::worker {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string ReadBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteBytes(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

std::map<std::string, std::string> FilesUnder(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) {
      files[fs::relative(entry.path(), dir).generic_string()] = ReadBytes(entry.path());
    }
  }
  return files;
}

class PreparedArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("easel-prepared-archive-" + std::to_string(getpid()));
    RemoveTree(dir_).IgnoreError();
    fs::create_directories(dir_);
  }
  void TearDown() override { RemoveTree(dir_).IgnoreError(); }

  // A prepared dataset as easel-preprocess writes it, with bytes of every value.
  fs::path MakePrepared(const std::string& name) {
    const fs::path prepared = dir_ / name;
    std::string binary;
    for (int i = 0; i < 256; ++i) binary.push_back(static_cast<char>(i));
    WriteBytes(prepared / "manifest.json", R"({"version": 1, "images": []})");
    WriteBytes(prepared / "images" / "0001.png", binary);
    WriteBytes(prepared / "images" / "0002.png", binary + binary);
    WriteBytes(prepared / "masks" / "0001.png", std::string(1000, '\0'));
    return prepared;
  }

  fs::path dir_;
};

TEST_F(PreparedArchiveTest, UnpackGivesBackEveryFile) {
  const fs::path prepared = MakePrepared("prepared");
  ASSERT_TRUE(PackDirectory(prepared, dir_ / "packed.zip").ok());
  absl::Status unpacked = UnpackPreparedDataset(dir_ / "packed.zip", dir_ / "unpacked");
  ASSERT_TRUE(unpacked.ok()) << unpacked;
  EXPECT_EQ(FilesUnder(dir_ / "unpacked"), FilesUnder(prepared));
  EXPECT_EQ(FilesUnder(prepared).size(), 4u);
}

TEST_F(PreparedArchiveTest, TheSameDirectoryPacksToTheSameBytes) {
  ASSERT_TRUE(PackDirectory(MakePrepared("one"), dir_ / "one.zip").ok());
  ASSERT_TRUE(PackDirectory(MakePrepared("two"), dir_ / "two.zip").ok());
  EXPECT_EQ(ReadBytes(dir_ / "one.zip"), ReadBytes(dir_ / "two.zip"));
}

TEST_F(PreparedArchiveTest, AnArchiveWithoutManifestOrNotAnArchiveIsRefused) {
  const fs::path prepared = MakePrepared("prepared");
  fs::remove(prepared / "manifest.json");
  ASSERT_TRUE(PackDirectory(prepared, dir_ / "packed.zip").ok());
  absl::Status status = UnpackPreparedDataset(dir_ / "packed.zip", dir_ / "unpacked");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("manifest.json"));

  WriteBytes(dir_ / "garbage.zip", "not an archive at all");
  status = UnpackPreparedDataset(dir_ / "garbage.zip", dir_ / "unpacked-garbage");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("prepared dataset"));
}

TEST_F(PreparedArchiveTest, ACheckpointNeedsItsCompleteMarkerAndMayHoldLargeTensors) {
  const fs::path checkpoint = dir_ / "step-00000004";
  WriteBytes(checkpoint / "training_state.json", R"({"step": 4})");
  // Past the 64 MiB per-file limit of uploaded archives: tensor files may be large.
  WriteBytes(checkpoint / "adapters.safetensors", std::string((int64_t{64} << 20) + 1, 'x'));
  ASSERT_TRUE(PackDirectory(checkpoint, dir_ / "incomplete.zip").ok());
  absl::Status status = UnpackCheckpoint(dir_ / "incomplete.zip", dir_ / "incomplete");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("checkpoint: the archive holds no COMPLETE"));

  WriteBytes(checkpoint / "COMPLETE", "4\n");
  ASSERT_TRUE(PackDirectory(checkpoint, dir_ / "complete.zip").ok());
  status = UnpackCheckpoint(dir_ / "complete.zip", dir_ / "unpacked");
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(FilesUnder(dir_ / "unpacked"), FilesUnder(checkpoint));
}

}  // namespace
}  // namespace easel::worker
