#include "cli/refs.h"

#include "gtest/gtest.h"

namespace easel::cli {
namespace {

TEST(ParseModelRefTest, OwnerNameAndVersion) {
  auto ref = ParseModelRef("alice/faces:abc123");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->owner, "alice");
  EXPECT_EQ(ref->name, "faces");
  EXPECT_EQ(ref->version, "abc123");
  EXPECT_EQ(ref->model(), "alice/faces");
}

TEST(ParseModelRefTest, VersionIsOptional) {
  auto ref = ParseModelRef("alice/faces");
  ASSERT_TRUE(ref.ok());
  EXPECT_TRUE(ref->version.empty());
}

TEST(ParseModelRefTest, RejectsMalformedReferencesWithTheReason) {
  EXPECT_NE(ParseModelRef("faces").status().message().find("no '/'"), absl::string_view::npos);
  EXPECT_FALSE(ParseModelRef("/faces").ok());
  EXPECT_FALSE(ParseModelRef("alice/").ok());
  EXPECT_FALSE(ParseModelRef("a/b/c").ok());
  EXPECT_FALSE(ParseModelRef("alice/faces:").ok());
  EXPECT_FALSE(ParseModelRef("alice/faces:v1", /*allow_version=*/false).ok());
}

}  // namespace
}  // namespace easel::cli
