#include "providers/webpush/webpush_payload.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/herald/v1/herald.pb.h"
#include "providers/common/spec_notification.h"
#include "rapidjson/document.h"

namespace herald::providers::webpush {
namespace {

using ::herald::v1::Device;
using ::herald::v1::Notification;

constexpr char kEllipsis[] = "\xE2\x80\xA6";

Notification FullNotification() {
  Notification n = SpecNotification();
  n.set_room_alias("#exampleroom:matrix.org");
  n.set_prio(herald::v1::PRIORITY_HIGH);
  n.set_content_json(R"({"msgtype":"m.text","body":"I'm floating in a most peculiar way.",)"
                     R"("format":"org.matrix.custom.html","formatted_body":"<b>x</b>"})");
  return n;
}

Device WebDevice(const std::string& data_json = "") {
  Device d;
  d.set_app_id("im.vector.app.web");
  d.set_pushkey(
      "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4");
  d.set_data_json(
      data_json.empty()
          ? R"({"endpoint":"https://push.example.net/x","auth":"BTBZMqHH6r4Tts7J_aSIgg"})"
          : data_json);
  return d;
}

// Strict UTF-8 check (no overlongs, surrogates or values above U+10FFFF).
bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4;
      cp = b & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

size_t CodePoints(absl::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

std::string BodyOf(const std::string& payload) {
  rapidjson::Document doc;
  doc.Parse(payload.data(), payload.size());
  EXPECT_FALSE(doc.HasParseError()) << payload;
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("content")) return "<none>";
  const auto& content = doc["content"];
  if (!content.IsObject() || !content.HasMember("body") || !content["body"].IsString()) {
    return "<none>";
  }
  return std::string(content["body"].GetString(), content["body"].GetStringLength());
}

TEST(WebPushPayloadTest, FullNotification) {
  EXPECT_EQ(BuildWebPushPayload(FullNotification(), WebDevice()),
            R"({"room_id":"!slw48wfj34rtnrf:example.com","room_name":"Mission Control",)"
            R"("room_alias":"#exampleroom:matrix.org","event_id":"$3957tyerfgewrf384",)"
            R"("sender":"@exampleuser:matrix.org","sender_display_name":"Major Tom",)"
            R"("type":"m.room.message","unread":2,"missed_calls":1,)"
            R"("content":{"msgtype":"m.text","body":"I'm floating in a most peculiar way.",)"
            R"("format":"org.matrix.custom.html"}})");
}

TEST(WebPushPayloadTest, DefaultPayloadMergedFirstAndOverridden) {
  Notification n = FullNotification();
  n.clear_content_json();
  n.clear_counts();
  n.clear_room_alias();
  n.clear_room_name();
  n.clear_sender_display_name();
  const Device d =
      WebDevice(R"({"endpoint":"https://push.example.net/x","auth":"BTBZMqHH6r4Tts7J_aSIgg",)"
                R"("default_payload":{"room_id":"overridden","a":{"b":[1,2.5,"c"],"b":"last"},)"
                R"("big":18446744073709551615,"x":1,"x":2,"content":{"kept":true}}})");
  EXPECT_EQ(BuildWebPushPayload(n, d),
            R"({"room_id":"!slw48wfj34rtnrf:example.com","a":{"b":"last"},)"
            R"("big":18446744073709551615,"x":2,"content":{"kept":true},)"
            R"("event_id":"$3957tyerfgewrf384","sender":"@exampleuser:matrix.org",)"
            R"("type":"m.room.message"})");

  // Notification content replaces the default one.
  n.set_content_json(R"({"body":"hi"})");
  EXPECT_THAT(BuildWebPushPayload(n, d), ::testing::HasSubstr(R"("content":{"body":"hi"})"));
}

TEST(WebPushPayloadTest, DefaultPayloadIgnoredWhenNotAnObject) {
  Notification n;
  n.set_event_id("$e");
  EXPECT_EQ(BuildWebPushPayload(n, WebDevice(R"({"default_payload":[1,2]})")),
            R"({"event_id":"$e"})");
  EXPECT_EQ(BuildWebPushPayload(n, WebDevice(R"({"default_payload":"x"})")),
            R"({"event_id":"$e"})");
  EXPECT_EQ(BuildWebPushPayload(n, WebDevice("not json")), R"({"event_id":"$e"})");
  Device no_data;
  EXPECT_EQ(BuildWebPushPayload(n, no_data), R"({"event_id":"$e"})");
}

TEST(WebPushPayloadTest, BadgeOnly) {
  Notification n;
  n.set_prio(herald::v1::PRIORITY_HIGH);
  n.mutable_counts()->set_unread(3);
  EXPECT_EQ(BuildWebPushPayload(n, WebDevice()), R"({"unread":3})");
  n.mutable_counts()->set_unread(0);
  n.mutable_counts()->set_missed_calls(0);
  EXPECT_EQ(BuildWebPushPayload(n, WebDevice()), R"({"unread":0,"missed_calls":0})");
  n.clear_counts();
  EXPECT_EQ(BuildWebPushPayload(n, WebDevice()), "{}");
}

TEST(WebPushPayloadTest, EmptyAndFalseFieldsAreLeftOut) {
  Notification n;
  n.set_event_id("");
  n.set_room_id("");
  n.set_sender("@a:b");
  n.set_user_is_target(false);
  n.set_membership("");
  EXPECT_EQ(BuildWebPushPayload(n, WebDevice()), R"({"sender":"@a:b"})");

  n.set_user_is_target(true);
  n.set_membership("invite");
  n.set_type("m.room.member");
  EXPECT_EQ(BuildWebPushPayload(n, WebDevice()),
            R"({"membership":"invite","sender":"@a:b","user_is_target":true,)"
            R"("type":"m.room.member"})");
}

TEST(WebPushPayloadTest, ContentHandling) {
  Notification n;
  // Not an object / not JSON: no content.
  for (const char* bad : {"[1]", "\"text\"", "{", "null"}) {
    n.set_content_json(bad);
    EXPECT_EQ(BuildWebPushPayload(n, WebDevice()), "{}") << bad;
  }
  // Duplicate keys merged (last value, first position), formatted_body gone
  // even when repeated, numbers and nesting kept, non-string body untouched.
  n.set_content_json(
      R"({"body":"a","formatted_body":"x","n":12345678901234567890,"f":0.1,)"
      R"("body":"b","formatted_body":"y","nested":{"k":1,"k":[null,true]},"msgtype":"m.text"})");
  EXPECT_EQ(BuildWebPushPayload(n, WebDevice()),
            R"({"content":{"body":"b","n":12345678901234567890,"f":0.1,)"
            R"("nested":{"k":[null,true]},"msgtype":"m.text"}})");
  n.set_content_json(R"({"body":42})");
  EXPECT_EQ(BuildWebPushPayload(n, WebDevice()), R"({"content":{"body":42}})");
  n.set_content_json(R"({"body":"é\"\n☃"})");
  EXPECT_EQ(BuildWebPushPayload(n, WebDevice()), R"({"content":{"body":"é\"\n☃"}})");
}

TEST(WebPushPayloadTest, LongMultiByteBodyCutTo1000Characters) {
  // 1500 characters of 1-, 2-, 3- and 4-byte UTF-8.
  const std::string unit = "a\xC3\xA9\xE2\x98\x83\xF0\x9F\x98\x80";  // a é ☃ 😀
  std::string body;
  for (int i = 0; i < 375; ++i) body += unit;
  ASSERT_EQ(CodePoints(body), 1500u);

  Notification n;
  n.set_content_json(absl::StrCat(R"({"msgtype":"m.text","body":")", body, R"("})"));
  const std::string payload = BuildWebPushPayload(n, WebDevice());
  EXPECT_TRUE(IsValidUtf8(payload));
  const std::string cut = BodyOf(payload);
  EXPECT_EQ(CodePoints(cut), 1000u);
  EXPECT_TRUE(absl::EndsWith(cut, kEllipsis));
  std::string expected_prefix;
  for (int i = 0; i < 249; ++i) expected_prefix += unit;
  expected_prefix += "a\xC3\xA9\xE2\x98\x83";  // 999 = 249 * 4 + 3 characters
  EXPECT_EQ(cut, expected_prefix + kEllipsis);

  // Exactly 1000 characters: unchanged.
  std::string thousand;
  for (int i = 0; i < 250; ++i) thousand += unit;
  n.set_content_json(absl::StrCat(R"({"body":")", thousand, R"("})"));
  EXPECT_EQ(BodyOf(BuildWebPushPayload(n, WebDevice())), thousand);
}

TEST(WebPushPayloadTest, FitReturnsFittingPayloadUnchanged) {
  const std::string payload = BuildWebPushPayload(FullNotification(), WebDevice());
  EXPECT_EQ(FitWebPushPayload(payload, kMaxPlaintextBytes), payload);
  EXPECT_EQ(FitWebPushPayload(payload, payload.size()), payload);
}

TEST(WebPushPayloadTest, FitShortensBodyWithinBudget) {
  // A 3990-byte body of 999 characters (so BuildWebPushPayload keeps it
  // whole): 995 4-byte emoji, 3 3-byte snowmen and a quote (escaped in JSON).
  std::string body;
  for (int i = 0; i < 995; ++i) {
    body += "\xF0\x9F\x98\x80";
    if (i == 100 || i == 500 || i == 990) body += "\xE2\x98\x83";
    if (i == 700) body += "\"";
  }
  ASSERT_EQ(body.size(), 3990u);
  ASSERT_EQ(CodePoints(body), 999u);
  Notification n = FullNotification();
  n.set_content_json(absl::StrCat(R"({"msgtype":"m.text","body":")",
                                  absl::StrReplaceAll(body, {{"\"", "\\\""}}), R"("})"));
  const std::string payload = BuildWebPushPayload(n, WebDevice());
  ASSERT_EQ(BodyOf(payload), body);
  ASSERT_GT(payload.size(), kMaxPlaintextBytes);

  for (size_t max : {kMaxPlaintextBytes, size_t{3000}, size_t{1001}, size_t{500}}) {
    std::optional<std::string> fitted = FitWebPushPayload(payload, max);
    ASSERT_TRUE(fitted.has_value()) << max;
    EXPECT_LE(fitted->size(), max);
    EXPECT_TRUE(IsValidUtf8(*fitted)) << max;
    const std::string cut = BodyOf(*fitted);
    ASSERT_TRUE(absl::EndsWith(cut, kEllipsis)) << max;
    const std::string kept = cut.substr(0, cut.size() - 3);
    EXPECT_TRUE(absl::StartsWith(body, kept)) << max;
    // Maximal: one more character (at most 4 bytes here) would not fit.
    EXPECT_GT(fitted->size() + 4, max) << max;
    // Everything else is still there.
    EXPECT_THAT(*fitted, ::testing::HasSubstr(R"("msgtype":"m.text")"));
    EXPECT_THAT(*fitted, ::testing::HasSubstr(R"("unread":2,"missed_calls":1)"));
  }
  // Shortening again keeps a single trailing ellipsis.
  std::optional<std::string> once = FitWebPushPayload(payload, 3000);
  ASSERT_TRUE(once.has_value());
  std::optional<std::string> twice = FitWebPushPayload(*once, 2000);
  ASSERT_TRUE(twice.has_value());
  const std::string cut = BodyOf(*twice);
  EXPECT_FALSE(absl::EndsWith(cut, absl::StrCat(kEllipsis, kEllipsis)));
  EXPECT_TRUE(absl::EndsWith(cut, kEllipsis));
}

TEST(WebPushPayloadTest, FitDropsContentWhenBodyCannotHelp) {
  // No body: content goes.
  Notification n = FullNotification();
  n.set_content_json(
      absl::StrCat(R"({"msgtype":"m.text","other":")", std::string(5000, 'x'), R"("})"));
  std::string payload = BuildWebPushPayload(n, WebDevice());
  std::optional<std::string> fitted = FitWebPushPayload(payload, kMaxPlaintextBytes);
  ASSERT_TRUE(fitted.has_value());
  EXPECT_FALSE(absl::StrContains(*fitted, "content"));
  EXPECT_THAT(*fitted, ::testing::StartsWith(R"({"room_id":"!slw48wfj34rtnrf:example.com")"));
  EXPECT_THAT(*fitted, ::testing::EndsWith(R"("unread":2,"missed_calls":1})"));

  // A body, but the rest of content is too big even with "…" alone.
  n.set_content_json(absl::StrCat(R"({"body":"hello","other":")", std::string(5000, 'x'), R"("})"));
  payload = BuildWebPushPayload(n, WebDevice());
  fitted = FitWebPushPayload(payload, kMaxPlaintextBytes);
  ASSERT_TRUE(fitted.has_value());
  EXPECT_FALSE(absl::StrContains(*fitted, "content"));

  // Even without content it does not fit.
  EXPECT_EQ(FitWebPushPayload(payload, 50), std::nullopt);
  // Nothing to shorten at all.
  const std::string big_default = BuildWebPushPayload(
      Notification(),
      WebDevice(absl::StrCat(R"({"default_payload":{"x":")", std::string(5000, 'y'), R"("}})")));
  EXPECT_EQ(FitWebPushPayload(big_default, kMaxPlaintextBytes), std::nullopt);
  EXPECT_EQ(FitWebPushPayload(std::string(5000, '['), kMaxPlaintextBytes), std::nullopt);
}

TEST(WebPushPayloadTest, FitCutsLongNamesNotOnlyTheBody) {
  // A long room name and display name with a short body: the body alone
  // cannot make room (this used to end in "payload does not fit").
  Notification n = FullNotification();
  n.set_room_name(std::string(2500, 'r'));
  n.set_sender_display_name(std::string(2500, 's'));
  const std::string payload = BuildWebPushPayload(n, WebDevice());
  ASSERT_GT(payload.size(), kMaxPlaintextBytes);
  std::optional<std::string> fitted = FitWebPushPayload(payload, kMaxPlaintextBytes);
  ASSERT_TRUE(fitted.has_value());
  EXPECT_LE(fitted->size(), kMaxPlaintextBytes);
  rapidjson::Document doc;
  doc.Parse(fitted->data(), fitted->size());
  ASSERT_FALSE(doc.HasParseError());
  // Display name cut first (after the body), the room name kept whole.
  EXPECT_EQ(std::string(doc["room_name"].GetString()), std::string(2500, 'r'));
  EXPECT_TRUE(absl::EndsWith(doc["sender_display_name"].GetString(), kEllipsis));
  EXPECT_TRUE(doc.HasMember("event_id"));
  EXPECT_GT(fitted->size() + 2, kMaxPlaintextBytes);  // maximal
}

TEST(WebPushPayloadTest, RoomTopic) {
  const std::string topic = RoomTopic("!slw48wfj34rtnrf:example.com");
  EXPECT_EQ(topic.size(), 32u);
  for (char c : topic) {
    EXPECT_TRUE(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << c;
  }
  // base64url(SHA-256("!slw48wfj34rtnrf:example.com")), first 32 characters.
  EXPECT_EQ(topic, "NxZhAvi4QqF0_4nGTwLaFvSh_75k3ypw");
  EXPECT_EQ(RoomTopic("!slw48wfj34rtnrf:example.com"), topic);
  EXPECT_NE(RoomTopic("!other:example.com"), topic);
  EXPECT_EQ(RoomTopic("").size(), 32u);
}

}  // namespace
}  // namespace herald::providers::webpush
