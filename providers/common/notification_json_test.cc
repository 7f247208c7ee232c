#include "providers/common/notification_json.h"

#include <optional>
#include <string>

#include "bridge/notify_json.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "proto/herald/v1/herald.pb.h"

namespace herald::providers {
namespace {

using ::herald::v1::Notification;

Notification FromText(const std::string& text) {
  Notification n;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &n)) << text;
  return n;
}

// Every field set, with values that need escaping and non-ASCII text.
constexpr char kFull[] = R"pb(
  event_id: "$ev"
  room_id: "!room:example.org"
  type: "m.room.message"
  sender: "@tom:example.org"
  sender_display_name: "Major \"Tom\" \\ Zoë"
  room_name: "Café ☕\n\t\001"
  room_alias: "#control:example.org"
  membership: "join"
  user_is_target: false
  prio: PRIORITY_LOW
  content_json: "{\"body\":\"hi\",\"n\":9007199254740993}"
  counts { unread: 2 missed_calls: 1 }
  devices {
    app_id: "im.example.ios"
    pushkey: "pk1"
    pushkey_ts: 12345678
    data_json: "{\"format\":\"event_id_only\",\"big\":18446744073709551615}"
    tweaks_json: "{\"sound\":\"bing\"}"
  }
  devices { app_id: "im.example.android" pushkey: "pk2" }
)pb";

constexpr char kFullJson[] =
    R"({"event_id":"$ev","room_id":"!room:example.org",)"
    R"("type":"m.room.message","sender":"@tom:example.org",)"
    R"("sender_display_name":"Major \"Tom\" \\ Zoë",)"
    R"("room_name":"Café ☕\n\t\u0001","room_alias":"#control:example.org",)"
    R"("membership":"join","user_is_target":false,"prio":"low",)"
    R"("content":{"body":"hi","n":9007199254740993},)"
    R"("counts":{"unread":2,"missed_calls":1}})";

constexpr char kDevicesJson[] = R"("devices":[{"app_id":"im.example.ios","pushkey":"pk1",)"
                                R"("pushkey_ts":12345678,)"
                                R"("data":{"format":"event_id_only","big":18446744073709551615},)"
                                R"("tweaks":{"sound":"bing"}},)"
                                R"({"app_id":"im.example.android","pushkey":"pk2"}])";

TEST(NotificationToJsonTest, Full) {
  EXPECT_EQ(NotificationToJson(FromText(kFull), {}), kFullJson);
}

TEST(NotificationToJsonTest, FullWithDevices) {
  std::string expected = kFullJson;
  expected.pop_back();  // The closing brace.
  expected += std::string(",") + kDevicesJson + "}";
  EXPECT_EQ(NotificationToJson(FromText(kFull), {.include_devices = true}), expected);
}

TEST(NotificationToJsonTest, EventIdOnly) {
  EXPECT_EQ(NotificationToJson(FromText(kFull), {.event_id_only = true}),
            R"({"event_id":"$ev","room_id":"!room:example.org",)"
            R"("counts":{"unread":2,"missed_calls":1}})");
}

TEST(NotificationToJsonTest, EventIdOnlyWithDevices) {
  EXPECT_EQ(NotificationToJson(FromText(kFull), {.include_devices = true, .event_id_only = true}),
            std::string(R"({"event_id":"$ev","room_id":"!room:example.org",)"
                        R"("counts":{"unread":2,"missed_calls":1},)") +
                kDevicesJson + "}");
}

TEST(NotificationToJsonTest, BadgeOnly) {
  Notification n = FromText(R"pb(
    sender: ""
    prio: PRIORITY_HIGH
    counts { unread: 0 }
    devices { app_id: "a" pushkey: "k" pushkey_ts: 1 data_json: "{}" }
  )pb");
  EXPECT_EQ(NotificationToJson(n, {}), R"({"sender":"","prio":"high","counts":{"unread":0}})");
  EXPECT_EQ(NotifyBodyJson(n, {.include_devices = true}),
            R"({"notification":{"sender":"","prio":"high",)"
            R"("counts":{"unread":0},)"
            R"("devices":[{"app_id":"a","pushkey":"k","pushkey_ts":1,)"
            R"("data":{}}]}})");
}

TEST(NotificationToJsonTest, UnsetFieldsAreLeftOut) {
  // No counts set at all, prio unspecified (means high), no devices.
  EXPECT_EQ(NotificationToJson(Notification(), {}), R"({"prio":"high"})");
  EXPECT_EQ(NotificationToJson(Notification(), {.event_id_only = true}), "{}");
  EXPECT_EQ(NotifyBodyJson(Notification(), {.include_devices = true}),
            R"({"notification":{"prio":"high","devices":[]}})");
  // Counts set but empty is written as such.
  EXPECT_EQ(NotificationToJson(FromText("counts {}"), {.event_id_only = true}), R"({"counts":{}})");
}

TEST(NotifyBodyJsonTest, WrapsTheNotification) {
  EXPECT_EQ(NotifyBodyJson(FromText(kFull), {}),
            std::string(R"({"notification":)") + kFullJson + "}");
}

TEST(NotifyBodyJsonTest, EmbedsStringsWithNul) {
  Notification n;
  n.set_room_name(std::string("a\0b", 3));
  EXPECT_EQ(NotificationToJson(n, {.event_id_only = false}),
            R"({"room_name":"a\u0000b","prio":"high"})");
}

// -- Round trip: parse -> render -> parse ------------------------------------------

class RoundTripTest : public testing::TestWithParam<const char*> {};

TEST_P(RoundTripTest, ParseRenderParseGivesTheSameProto) {
  Notification first;
  absl::Status error = bridge::ParseNotifyBody(GetParam(), &first);
  ASSERT_TRUE(error.ok()) << error;

  const std::string rendered = NotifyBodyJson(first, {.include_devices = true});
  Notification second;
  error = bridge::ParseNotifyBody(rendered, &second);
  ASSERT_TRUE(error.ok()) << error << "\n" << rendered;
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(first, second))
      << "first:\n"
      << first.DebugString() << "second:\n"
      << second.DebugString();
  // Rendering is a fixed point after one pass.
  EXPECT_EQ(NotifyBodyJson(second, {.include_devices = true}), rendered);
}

INSTANTIATE_TEST_SUITE_P(
    Bodies, RoundTripTest,
    testing::Values(
        // The spec's example, plus membership and user_is_target.
        R"({"notification":{"event_id":"$3957tyerfgewrf384",
            "room_id":"!slw48wfj34rtnrf:example.com","type":"m.room.message",
            "sender":"@exampleuser:matrix.org","sender_display_name":"Major Tom",
            "room_name":"Mission Control","room_alias":"#exampleroom:matrix.org",
            "membership":"invite","user_is_target":true,"prio":"low",
            "content":{"msgtype":"m.text","body":"I'm floating"},
            "counts":{"unread":2,"missed_calls":1},
            "devices":[{"app_id":"org.matrix.matrixConsole.ios",
              "pushkey":"V2h5IG9uIGVhcnRoIGRpZCB5b3UgZGVjb2RlIHRoaXM/",
              "pushkey_ts":12345678,"data":{},"tweaks":{"sound":"bing"}}]}})",
        // Synapse's badge-only update.
        R"({"notification":{"id":"","type":null,"sender":"","counts":{"unread":0},)"
        R"("devices":[{"app_id":"a","pushkey":"k","pushkey_ts":1,"data":{}}]}})",
        // Exact numbers, key order, escapes and non-ASCII text.
        R"({"notification":{"room_name":"Caf\u00e9 \"☕\" \\ \ud83d\ude00\n",)"
        R"("content":{"z":1.50,"a":[9007199254740993,-0,1E2],"\u0000":null},)"
        R"("devices":[{"app_id":"a","pushkey":"k1",)"
        R"("data":{"n":18446744073709551615,"m":123456789012345678901234567890}},)"
        R"({"app_id":"b","pushkey":"k2","tweaks":{"highlight":false}}]}})"));

TEST(RoundTripTest, CanonicalBodyRendersBackIdentically) {
  // A compact body in Matrix field order is reproduced byte for byte.
  const std::string body =
      R"({"notification":{"event_id":"$e","room_id":"!r:x","type":"m.room.message",)"
      R"("sender":"@s:x","prio":"high","content":{"b":"é","a":1},)"
      R"("counts":{"unread":1},"devices":[{"app_id":"a","pushkey":"k",)"
      R"("pushkey_ts":5,"data":{"format":"event_id_only"},"tweaks":{}}]}})";
  Notification n;
  absl::Status error = bridge::ParseNotifyBody(body, &n);
  ASSERT_TRUE(error.ok()) << error;
  EXPECT_EQ(NotifyBodyJson(n, {.include_devices = true}), body);
}

}  // namespace
}  // namespace herald::providers
