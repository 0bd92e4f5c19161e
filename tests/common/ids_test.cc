#include "common/ids.h"

#include <set>

#include "gtest/gtest.h"

namespace easel {
namespace {

TEST(IdsTest, LengthAlphabetAndUniqueness) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewId();
    ASSERT_EQ(id.size(), 26u);
    for (char c : id) EXPECT_NE(std::string("0123456789abcdefghjkmnpqrstvwxyz").find(c), std::string::npos);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

}  // namespace
}  // namespace easel
