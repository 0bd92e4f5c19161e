#include "common/remove_tree.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace easel {
namespace {

std::filesystem::path FreshDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("remove_tree_test_" + std::to_string(::getpid()) + "_" + name);
  EXPECT_TRUE(RemoveTree(dir).ok());
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(RemoveTreeTest, RemovesNestedFilesAndDirectories) {
  auto dir = FreshDir("nested");
  std::filesystem::create_directories(dir / "a" / "b" / "c");
  std::ofstream(dir / "a" / "b" / "c" / "file.txt") << "x";
  std::ofstream(dir / "top.txt") << "y";
  ASSERT_TRUE(RemoveTree(dir).ok());
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(RemoveTreeTest, MissingPathIsOkAndAPlainFileIsRemoved) {
  auto dir = FreshDir("file");
  EXPECT_TRUE(RemoveTree(dir / "does-not-exist").ok());
  std::ofstream(dir / "f") << "z";
  ASSERT_TRUE(RemoveTree(dir / "f").ok());
  EXPECT_FALSE(std::filesystem::exists(dir / "f"));
  ASSERT_TRUE(RemoveTree(dir).ok());
}

TEST(RemoveTreeTest, DoesNotFollowSymlinks) {
  auto dir = FreshDir("links");
  auto outside = FreshDir("outside");
  std::ofstream(outside / "keep.txt") << "keep";
  std::filesystem::create_directory_symlink(outside, dir / "link");
  ASSERT_TRUE(RemoveTree(dir).ok());
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_TRUE(std::filesystem::exists(outside / "keep.txt"));
  ASSERT_TRUE(RemoveTree(outside).ok());
}

}  // namespace
}  // namespace easel
