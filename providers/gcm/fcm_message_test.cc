#include "providers/gcm/fcm_message.h"

#include <string>

#include "gtest/gtest.h"
#include "proto/herald/v1/herald.pb.h"
#include "providers/common/spec_notification.h"
#include "rapidjson/document.h"

namespace herald::providers::gcm {
namespace {

using herald::v1::Device;
using herald::v1::Notification;

const std::string kEllipsis = "\xE2\x80\xA6";

Device MakeDevice(const std::string& data_json = "") {
  Device d;
  d.set_app_id("com.example.app.android");
  d.set_pushkey("spqr");
  d.set_data_json(data_json);
  return d;
}

// The spec's example notification.
Notification FullNotification() {
  Notification n = SpecNotification();
  n.set_room_alias("#exampleroom:matrix.org");
  n.set_prio(herald::v1::PRIORITY_HIGH);
  n.set_content_json(
      R"({"msgtype":"m.text","body":"I'm floating in a most peculiar way.","formatted":{"x":1}})");
  return n;
}

std::string Build(const Notification& n, const Device& d, const std::string& fcm_options = "") {
  absl::StatusOr<std::string> result = BuildFcmMessage(n, d, fcm_options);
  if (!result.ok()) {
    ADD_FAILURE() << "unexpected error: " << result.status();
    return "";
  }
  return *std::move(result);
}

bool IsValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

// data[key] of a built message.
std::string DataField(const std::string& message_json, const char* key) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(message_json.c_str());
  EXPECT_FALSE(doc.HasParseError()) << message_json;
  if (doc.HasParseError()) return "";
  const rapidjson::Value& data = doc["message"]["data"];
  auto it = data.FindMember(key);
  EXPECT_NE(it, data.MemberEnd()) << key;
  if (it == data.MemberEnd()) return "";
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

TEST(TruncateUtf8Test, Table) {
  const std::string e_acute = "\xC3\xA9";        // 2 bytes
  const std::string euro = "\xE2\x82\xAC";       // 3 bytes
  const std::string emoji = "\xF0\x9F\x98\x80";  // 4 bytes
  struct Case {
    std::string in;
    size_t max;
    std::string want;
  };
  const Case cases[] = {
      {"", 0, ""},
      {"", 5, ""},
      {"short", 10, "short"},
      {"exact", 5, "exact"},            // exactly at the limit: unchanged
      {"abcdef", 5, "ab" + kEllipsis},  // 2 + 3 = 5
      {"abcdefgh", 6, "abc" + kEllipsis},
      {"abcdef", 3, kEllipsis},  // only the ellipsis fits
      {e_acute + e_acute + e_acute, 6, e_acute + e_acute + e_acute},
      {e_acute + e_acute + e_acute, 5, e_acute + kEllipsis},  // 2 + 3
      {e_acute + e_acute + e_acute, 4, kEllipsis},            // é would be split at 1
      {"a" + euro + "bcde", 7, "a" + euro + kEllipsis},       // cut 4 is a boundary: 4 + 3 = 7
      {"a" + euro + "bcde", 6, "a" + kEllipsis},              // cut 3 inside € -> 1
      {euro + euro + euro, 8, euro + kEllipsis},              // cut 5 -> back to 3
      {"ab" + emoji + "cdef", 8, "ab" + kEllipsis},           // cut 5 inside the emoji -> 2
      {"ab" + emoji + "cdef", 9, "ab" + emoji + kEllipsis},   // cut 6 right after it
      // max_bytes < 3: no room for the ellipsis, whole characters only.
      {"abcdef", 2, "ab"},
      {"abcdef", 1, "a"},
      {"abcdef", 0, ""},
      {e_acute + e_acute, 1, ""},
      {e_acute + e_acute, 3, kEllipsis},
      {"a" + e_acute, 2, "a"},
  };
  for (const Case& c : cases) {
    const std::string got = TruncateUtf8(c.in, c.max);
    EXPECT_EQ(got, c.want) << "in=" << c.in << " max=" << c.max;
    EXPECT_LE(got.size(), c.max) << "in=" << c.in << " max=" << c.max;
    EXPECT_TRUE(IsValidUtf8(got));
  }
}

TEST(FcmMessageTest, FullNotification) {
  EXPECT_EQ(
      Build(FullNotification(), MakeDevice()),
      R"json({"message":{"token":"spqr","data":{"event_id":"$3957tyerfgewrf384","type":"m.room.message","sender":"@exampleuser:matrix.org","room_name":"Mission Control","room_alias":"#exampleroom:matrix.org","sender_display_name":"Major Tom","room_id":"!slw48wfj34rtnrf:example.com","content_msgtype":"m.text","content_body":"I'm floating in a most peculiar way.","prio":"high","unread":"2","missed_calls":"1"},"android":{"priority":"high"}}})json");
}

TEST(FcmMessageTest, MembershipAndUnspecifiedPrio) {
  Notification n;
  n.set_event_id("$e");
  n.set_type("m.room.member");
  n.set_membership("invite");
  n.set_user_is_target(true);
  EXPECT_EQ(
      Build(n, MakeDevice()),
      R"json({"message":{"token":"spqr","data":{"event_id":"$e","type":"m.room.member","membership":"invite","prio":"high"},"android":{"priority":"high"}}})json");
}

TEST(FcmMessageTest, EventIdOnlyShaped) {
  Notification n;
  n.set_event_id("$3957tyerfgewrf384");
  n.set_room_id("!slw48wfj34rtnrf:example.com");
  n.mutable_counts()->set_unread(2);
  n.mutable_counts()->set_missed_calls(1);
  EXPECT_EQ(
      Build(n, MakeDevice(R"({"format":"event_id_only"})")),
      R"json({"message":{"token":"spqr","data":{"event_id":"$3957tyerfgewrf384","room_id":"!slw48wfj34rtnrf:example.com","prio":"high","unread":"2","missed_calls":"1"},"android":{"priority":"high"}}})json");
}

TEST(FcmMessageTest, BadgeOnly) {
  Notification n;
  n.mutable_counts()->set_unread(0);
  EXPECT_EQ(
      Build(n, MakeDevice()),
      R"json({"message":{"token":"spqr","data":{"prio":"high","unread":"0"},"android":{"priority":"high"}}})json");
}

TEST(FcmMessageTest, LowPrioIsNormal) {
  Notification n;
  n.set_event_id("$e");
  n.set_prio(herald::v1::PRIORITY_LOW);
  EXPECT_EQ(
      Build(n, MakeDevice()),
      R"json({"message":{"token":"spqr","data":{"event_id":"$e","prio":"normal"},"android":{"priority":"normal"}}})json");
}

TEST(FcmMessageTest, UnicodeBodyIsTruncated) {
  std::string body;
  for (int i = 0; i < 2000; ++i) body += "\xC3\xA9";  // é
  Notification n = FullNotification();
  n.set_content_json(R"({"msgtype":"m.text","body":")" + body + R"("})");
  const std::string got = DataField(Build(n, MakeDevice()), "content_body");
  EXPECT_LE(got.size(), kMaxFieldBytes);
  EXPECT_EQ(got.size(), 1023u);  // 510 × é + …
  EXPECT_EQ(got.substr(got.size() - 3), kEllipsis);
  EXPECT_TRUE(IsValidUtf8(got));
}

TEST(FcmMessageTest, EmojiStraddlingTheCutIsNotSplit) {
  const std::string emoji = "\xF0\x9F\x9A\x80";  // 🚀
  // The cut for the text is at byte 1021, one byte into the emoji.
  const std::string body = std::string(1020, 'a') + emoji + std::string(100, 'b');
  Notification n;
  n.set_event_id("$e");
  n.set_content_json(R"({"body":")" + body + R"("})");
  const std::string got = DataField(Build(n, MakeDevice()), "content_body");
  EXPECT_EQ(got, std::string(1020, 'a') + kEllipsis);
  EXPECT_TRUE(IsValidUtf8(got));
}

TEST(FcmMessageTest, LongNotificationFieldIsTruncated) {
  Notification n;
  n.set_event_id("$e");
  n.set_sender_display_name(std::string(3000, 'x'));
  const std::string got = DataField(Build(n, MakeDevice()), "sender_display_name");
  EXPECT_EQ(got, std::string(1021, 'x') + kEllipsis);
}

TEST(FcmMessageTest, ContentEdgeCases) {
  Notification n;
  n.set_event_id("$e");
  // Non-string values dropped; duplicate keys: the last value wins.
  n.set_content_json(R"({"body":"one","n":5,"body":"two","ok":true,"q":"a\"b"})");
  EXPECT_EQ(
      Build(n, MakeDevice()),
      R"json({"message":{"token":"spqr","data":{"event_id":"$e","content_body":"two","content_q":"a\"b","prio":"high"},"android":{"priority":"high"}}})json");
  n.set_content_json("[1,2]");  // not an object: ignored
  EXPECT_EQ(
      Build(n, MakeDevice()),
      R"json({"message":{"token":"spqr","data":{"event_id":"$e","prio":"high"},"android":{"priority":"high"}}})json");
  n.set_content_json("{broken");
  EXPECT_EQ(
      Build(n, MakeDevice()),
      R"json({"message":{"token":"spqr","data":{"event_id":"$e","prio":"high"},"android":{"priority":"high"}}})json");
}

TEST(FcmMessageTest, DefaultPayloadMerge) {
  const Device d = MakeDevice(R"({"format":"full","default_payload":{"s":"str","n":5,"f":1.50,)"
                              R"("big":123456789012345678901234567890,"b":true,"z":null,)"
                              R"("o":{"a":1, "b":[1,"x",{"c":false}], "u":"\u00e9"},"arr":[ ],)"
                              R"("event_id":"old","prio":"low","unread":"99"}})");
  Notification n;
  n.set_event_id("$e");
  n.set_room_id("!r:example.com");
  n.mutable_counts()->set_unread(3);
  EXPECT_EQ(
      Build(n, d),
      R"json({"message":{"token":"spqr","data":{"s":"str","n":"5","f":"1.50","big":"123456789012345678901234567890","b":"true","z":"null","o":"{\"a\":1,\"b\":[1,\"x\",{\"c\":false}],\"u\":\"é\"}","arr":"[]","event_id":"$e","prio":"high","unread":"3","room_id":"!r:example.com"},"android":{"priority":"high"}}})json");
}

TEST(FcmMessageTest, DefaultPayloadDuplicateKeys) {
  const Device d =
      MakeDevice(R"({"default_payload":{"k":"first","x":{"a":1,"a":2},"k":"second"}})");
  Notification n;
  EXPECT_EQ(
      Build(n, d),
      R"json({"message":{"token":"spqr","data":{"k":"second","x":"{\"a\":2}","prio":"high"},"android":{"priority":"high"}}})json");
}

TEST(FcmMessageTest, DefaultPayloadNotAnObjectIsAnError) {
  for (const char* data : {R"({"default_payload":"nope"})", R"({"default_payload":[1,2]})",
                           R"({"default_payload":5})", R"({"default_payload":null})"}) {
    auto result = BuildFcmMessage(FullNotification(), MakeDevice(data), "");
    ASSERT_FALSE(result.ok()) << data;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(result.status().message(), "data.default_payload is not a JSON object");
  }
}

TEST(FcmMessageTest, UnusableDeviceDataIsIgnored) {
  Notification n;
  n.set_event_id("$e");
  const std::string want =
      R"json({"message":{"token":"spqr","data":{"event_id":"$e","prio":"high"},"android":{"priority":"high"}}})json";
  for (const char* data : {"", "{}", "{broken", "[1]", R"({"format":"event_id_only"})"}) {
    EXPECT_EQ(Build(n, MakeDevice(data)), want) << data;
  }
}

TEST(FcmMessageTest, FcmOptionsMerge) {
  Notification n;
  n.set_event_id("$e");
  EXPECT_EQ(
      Build(
          n, MakeDevice(),
          R"({"android":{"ttl":"3600s","collapse_key":"x"},)"
          R"("apns":{"headers":{"apns-priority":"10"},"payload":{"aps":{"content-available":1}}}})"),
      R"json({"message":{"token":"spqr","data":{"event_id":"$e","prio":"high"},"android":{"priority":"high","ttl":"3600s","collapse_key":"x"},"apns":{"headers":{"apns-priority":"10"},"payload":{"aps":{"content-available":1}}}}})json");
}

TEST(FcmMessageTest, FcmOptionsOverrideAndIgnoredMembers) {
  Notification n;
  n.set_event_id("$e");
  n.set_prio(herald::v1::PRIORITY_LOW);
  EXPECT_EQ(
      Build(
          n, MakeDevice(),
          R"({"token":"evil","notification":{"title":"Hi"},"data":{"x":"y"},)"
          R"("android":{"collapse_key":"c","priority":"HIGH"},"fcm_options":{"analytics_label":"l"},)"
          R"("ttl_like":1.0e3})"),
      R"json({"message":{"token":"spqr","data":{"event_id":"$e","prio":"normal"},"android":{"priority":"HIGH","collapse_key":"c"},"notification":{"title":"Hi"},"fcm_options":{"analytics_label":"l"},"ttl_like":1.0e3}})json");
}

TEST(FcmMessageTest, UnusableFcmOptionsAreIgnored) {
  Notification n;
  n.set_event_id("$e");
  const std::string want =
      R"json({"message":{"token":"spqr","data":{"event_id":"$e","prio":"high"},"android":{"priority":"high"}}})json";
  for (const char* opts : {"", "{}", "{broken", "[1]", "\"x\"", R"({"android":"x"})"}) {
    EXPECT_EQ(Build(n, MakeDevice(), opts), want) << opts;
  }
}

TEST(FcmMessageTest, PushkeyIsEscaped) {
  Notification n;
  Device d = MakeDevice();
  d.set_pushkey("a\"b\\c");
  EXPECT_EQ(
      Build(n, d),
      R"json({"message":{"token":"a\"b\\c","data":{"prio":"high"},"android":{"priority":"high"}}})json");
}

}  // namespace
}  // namespace herald::providers::gcm
