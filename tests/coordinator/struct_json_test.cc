#include "coordinator/store/struct_json.h"

#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace easel::coordinator {
namespace {

// The same Struct as protobuf's own JSON parser makes.
TEST(StructJsonTest, MatchesProtobufsJsonParser) {
  for (const char* json :
       {R"({})", R"({"input_images": "datasets/abc", "max_train_steps": 30, "learning_rate": 1e-4,
            "use_face_detection_instead": false, "seed": -12, "caption_prefix": "ü \"TOK\"",
            "nested": {"list": [1, "two", true, null, [], {}], "empty": {}}, "none": null})",
        R"({"big": 12345678901234567890, "tiny": 5e-324})"}) {
    google::protobuf::Struct expected;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &expected).ok()) << json;
    absl::StatusOr<google::protobuf::Struct> parsed = StructFromJson(json);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*parsed, expected))
        << json << "\ngot: " << parsed->DebugString() << "\nexpected: " << expected.DebugString();
  }
}

TEST(StructJsonTest, RefusesWhatIsNotAJsonObject) {
  for (const char* json : {"", "[1]", "3", "{\"a\": ", "null"}) {
    EXPECT_EQ(StructFromJson(json).status().code(), absl::StatusCode::kInvalidArgument) << json;
  }
}

}  // namespace
}  // namespace easel::coordinator
