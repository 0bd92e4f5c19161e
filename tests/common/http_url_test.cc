#include "common/http_url.h"

#include "gtest/gtest.h"

namespace easel {
namespace {

TEST(HttpUrlTest, SplitsSchemeHostPortAndTarget) {
  absl::StatusOr<HttpUrl> url = ParseHttpUrl("http://127.0.0.1:8080/hook?x=1", "webhook");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->scheme, "http");
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 8080);
  EXPECT_EQ(url->target, "/hook?x=1");
  EXPECT_EQ(url->Origin(), "http://127.0.0.1:8080");
}

TEST(HttpUrlTest, DefaultsPortAndPath) {
  absl::StatusOr<HttpUrl> url = ParseHttpUrl("https://example.com", "webhook");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->port, 443);
  EXPECT_EQ(url->target, "/");
  absl::StatusOr<HttpUrl> query = ParseHttpUrl("http://example.com?a=b", "webhook");
  ASSERT_TRUE(query.ok()) << query.status();
  EXPECT_EQ(query->target, "/?a=b");
  EXPECT_EQ(ParseHttpUrl("http://[::1]:9/x", "webhook")->host, "[::1]");
}

TEST(HttpUrlTest, RefusesWhatIsNotAPlainHttpUrlNamingTheField) {
  for (const char* bad :
       {"ftp://example.com/", "example.com", "http://", "http://:80/", "http://user@example.com/",
        "http://example.com:99999/", "http://example.com:8x/", "http://example.com/a b",
        "http://example.com/#frag"}) {
    absl::StatusOr<HttpUrl> url = ParseHttpUrl(bad, "webhook");
    EXPECT_EQ(url.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(url.status().message().find("webhook"), std::string::npos) << bad;
  }
  EXPECT_FALSE(ParseHttpUrl("http://example.com/" + std::string(3000, 'a'), "w").ok());
}

}  // namespace
}  // namespace easel
