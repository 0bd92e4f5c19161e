#include "coordinator/webhooks/signature.h"
#include "gtest/gtest.h"

namespace easel::coordinator {
namespace {

// The test vector of the Standard Webhooks specification (issue 6).
TEST(WebhookSignatureTest, ReproducesTheStandardWebhooksTestVector) {
  absl::StatusOr<std::string> signature =
      SignWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                  1614265330, R"({"test": 2432232314})");
  ASSERT_TRUE(signature.ok()) << signature.status();
  EXPECT_EQ(*signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(WebhookSignatureTest, AnyChangeOfIdTimestampOrBodyChangesTheSignature) {
  const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  std::string base = *SignWebhook(secret, "msg_1", 100, "{}");
  EXPECT_NE(*SignWebhook(secret, "msg_2", 100, "{}"), base);
  EXPECT_NE(*SignWebhook(secret, "msg_1", 101, "{}"), base);
  EXPECT_NE(*SignWebhook(secret, "msg_1", 100, "{ }"), base);
  EXPECT_NE(*SignWebhook(NewWebhookSecret(), "msg_1", 100, "{}"), base);
}

TEST(WebhookSignatureTest, RefusesSecretsThatAreNotWhsecBase64) {
  EXPECT_EQ(SignWebhook("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "id", 1, "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SignWebhook("whsec_not*base64!", "id", 1, "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(WebhookSignatureTest, NewSecretsAreDistinctAndDecodeToThirtyTwoBytes) {
  std::string first = NewWebhookSecret(), second = NewWebhookSecret();
  EXPECT_NE(first, second);
  ASSERT_EQ(first.substr(0, 6), "whsec_");
  absl::StatusOr<std::string> key = Base64Decode(first.substr(6));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->size(), 32u);
}

TEST(WebhookSignatureTest, Base64RoundTripsEveryLengthModuloThree) {
  for (std::string bytes : {std::string(""), std::string("a"), std::string("ab"),
                            std::string("abc"), std::string("\0\xff\x10", 3)}) {
    absl::StatusOr<std::string> decoded = Base64Decode(Base64Encode(bytes));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, bytes);
  }
  EXPECT_EQ(Base64Encode("ab"), "YWI=");
}

}  // namespace
}  // namespace easel::coordinator
