#include "providers/apns/apns_payload.h"

#include <algorithm>
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "proto/herald/v1/herald.pb.h"
#include "providers/common/spec_notification.h"
#include "rapidjson/document.h"

namespace herald::providers::apns {
namespace {

using ::herald::v1::Device;
using ::herald::v1::Notification;

constexpr char kIds[] =
    R"("room_id":"!slw48wfj34rtnrf:example.com","event_id":"$3957tyerfgewrf384")";

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

Device DeviceWithData(const std::string& data_json) {
  Device d;
  d.set_app_id("com.example.app.ios");
  d.set_pushkey("3q2+7w==");
  d.set_data_json(data_json);
  return d;
}

std::string Build(const Notification& n, const std::string& data_json = "{}") {
  std::optional<std::string> payload = BuildApnsPayload(n, DeviceWithData(data_json));
  return payload.value_or("<nullopt>");
}

// Expected full-mode payload: alert, badge 3, then the ids.
std::string WithAlert(const std::string& loc_key, const std::string& loc_args) {
  return R"({"aps":{"alert":{"loc-key":")" + loc_key + R"(","loc-args":)" + loc_args +
         R"(},"badge":3},)" + kIds + "}";
}

bool IsValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t len = b < 0x80             ? 1
                 : (b & 0xE0) == 0xC0 ? 2
                 : (b & 0xF0) == 0xE0 ? 3
                 : (b & 0xF8) == 0xF0 ? 4
                                      : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

rapidjson::Document Parse(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
  EXPECT_FALSE(doc.HasParseError()) << json.substr(0, 200);
  return doc;
}

std::string LocArg(const rapidjson::Document& doc, int i) {
  const rapidjson::Value& v = doc["aps"]["alert"]["loc-args"][i];
  return std::string(v.GetString(), v.GetStringLength());
}

// --- m.room.message / m.room.encrypted ---------------------------------------

TEST(ApnsPayloadTest, SpecExample) {
  EXPECT_EQ(Build(SpecNotification()),
            R"({"aps":{"alert":{"loc-key":"MSG_FROM_USER_IN_ROOM_WITH_CONTENT","loc-args":)"
            R"(["Major Tom","Mission Control","I'm floating in a most peculiar way."]},)"
            R"("badge":3},"room_id":"!slw48wfj34rtnrf:example.com",)"
            R"("event_id":"$3957tyerfgewrf384"})");
}

TEST(ApnsPayloadTest, ImageInRoom) {
  Notification n = SpecNotification();
  n.set_content_json(R"({"msgtype":"m.image","body":"moon.png","url":"mxc://a/b"})");
  EXPECT_EQ(Build(n),
            WithAlert("IMAGE_FROM_USER_IN_ROOM", R"(["Major Tom","moon.png","Mission Control"])"));
}

TEST(ApnsPayloadTest, EmoteInRoom) {
  Notification n = SpecNotification();
  n.set_content_json(R"({"msgtype":"m.emote","body":"waves"})");
  EXPECT_EQ(Build(n),
            WithAlert("ACTION_FROM_USER_IN_ROOM", R"(["Mission Control","Major Tom","waves"])"));
}

TEST(ApnsPayloadTest, EncryptedInRoom) {
  Notification n = SpecNotification();
  n.set_type("m.room.encrypted");
  n.set_content_json(R"({"algorithm":"m.megolm.v1.aes-sha2","ciphertext":"AwgA"})");
  EXPECT_EQ(Build(n), WithAlert("MSG_FROM_USER_IN_ROOM", R"(["Major Tom","Mission Control"])"));
}

TEST(ApnsPayloadTest, OtherMsgtypeIsContent) {
  Notification n = SpecNotification();
  n.set_content_json(R"({"msgtype":"m.notice","body":"Ground control"})");
  EXPECT_EQ(Build(n), WithAlert("MSG_FROM_USER_IN_ROOM_WITH_CONTENT",
                                R"(["Major Tom","Mission Control","Ground control"])"));
}

TEST(ApnsPayloadTest, EmptyBodyIsNoContent) {
  Notification n = SpecNotification();
  n.set_content_json(R"({"msgtype":"m.text","body":""})");
  EXPECT_EQ(Build(n), WithAlert("MSG_FROM_USER_IN_ROOM", R"(["Major Tom","Mission Control"])"));
}

TEST(ApnsPayloadTest, NonStringBodyIsNoContent) {
  Notification n = SpecNotification();
  n.set_content_json(R"({"msgtype":"m.text","body":42})");
  EXPECT_EQ(Build(n), WithAlert("MSG_FROM_USER_IN_ROOM", R"(["Major Tom","Mission Control"])"));
}

TEST(ApnsPayloadTest, RoomAliasWhenNoRoomName) {
  Notification n = SpecNotification();
  n.set_room_name("");
  n.set_room_alias("#mission:example.com");
  EXPECT_EQ(
      Build(n),
      WithAlert("MSG_FROM_USER_IN_ROOM_WITH_CONTENT",
                R"(["Major Tom","#mission:example.com","I'm floating in a most peculiar way."])"));
}

TEST(ApnsPayloadTest, ImageWithoutRoom) {
  Notification n = SpecNotification();
  n.clear_room_name();
  n.set_content_json(R"({"msgtype":"m.image","body":"moon.png"})");
  EXPECT_EQ(Build(n), WithAlert("IMAGE_FROM_USER", R"(["Major Tom","moon.png"])"));
}

TEST(ApnsPayloadTest, ContentWithoutRoom) {
  Notification n = SpecNotification();
  n.clear_room_name();
  EXPECT_EQ(Build(n), WithAlert("MSG_FROM_USER_WITH_CONTENT",
                                R"(["Major Tom","I'm floating in a most peculiar way."])"));
}

TEST(ApnsPayloadTest, EmoteWithoutRoom) {
  Notification n = SpecNotification();
  n.clear_room_name();
  n.set_room_alias("");
  n.set_content_json(R"({"msgtype":"m.emote","body":"waves"})");
  EXPECT_EQ(Build(n), WithAlert("ACTION_FROM_USER", R"(["Major Tom","waves"])"));
}

TEST(ApnsPayloadTest, NoContentWithoutRoom) {
  Notification n = SpecNotification();
  n.clear_room_name();
  n.clear_content_json();
  EXPECT_EQ(Build(n), WithAlert("MSG_FROM_USER", R"(["Major Tom"])"));
}

TEST(ApnsPayloadTest, SenderWhenNoDisplayName) {
  Notification n = SpecNotification();
  n.clear_sender_display_name();
  n.clear_content_json();
  EXPECT_EQ(Build(n),
            WithAlert("MSG_FROM_USER_IN_ROOM", R"(["@exampleuser:matrix.org","Mission Control"])"));
}

TEST(ApnsPayloadTest, SpaceWhenNoSenderAtAll) {
  Notification n = SpecNotification();
  n.clear_sender_display_name();
  n.clear_sender();
  n.clear_content_json();
  EXPECT_EQ(Build(n), WithAlert("MSG_FROM_USER_IN_ROOM", R"([" ","Mission Control"])"));
}

TEST(ApnsPayloadTest, NamesCutTo1024Characters) {
  Notification n = SpecNotification();
  n.set_sender_display_name(Repeat("\xC3\xA9", 2000));  // é
  n.set_room_name(Repeat("r", 1500));
  n.clear_content_json();
  EXPECT_EQ(Build(n), WithAlert("MSG_FROM_USER_IN_ROOM", "[\"" + Repeat("\xC3\xA9", 1024) +
                                                             "\",\"" + Repeat("r", 1024) + "\"]"));
}

// --- calls, invites, other types ----------------------------------------------

TEST(ApnsPayloadTest, VideoCall) {
  Notification n = SpecNotification();
  n.set_type("m.call.invite");
  n.set_content_json(
      R"({"call_id":"c1","lifetime":60000,"offer":{"type":"offer",)"
      R"("sdp":"v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"},"version":0})");
  EXPECT_EQ(Build(n), WithAlert("VIDEO_CALL_FROM_USER", R"(["Major Tom"])"));
}

TEST(ApnsPayloadTest, VoiceCall) {
  Notification n = SpecNotification();
  n.set_type("m.call.invite");
  n.set_content_json(
      R"({"call_id":"c1","offer":{"type":"offer","sdp":"v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"}})");
  EXPECT_EQ(Build(n), WithAlert("VOICE_CALL_FROM_USER", R"(["Major Tom"])"));
  n.clear_content_json();
  EXPECT_EQ(Build(n), WithAlert("VOICE_CALL_FROM_USER", R"(["Major Tom"])"));
}

Notification Invite() {
  Notification n = SpecNotification();
  n.set_type("m.room.member");
  n.set_membership("invite");
  n.set_user_is_target(true);
  n.set_content_json(R"({"membership":"invite","displayname":"Ground Control"})");
  n.clear_counts();
  return n;
}

TEST(ApnsPayloadTest, InviteToNamedRoom) {
  EXPECT_EQ(Build(Invite()),
            std::string(R"({"aps":{"alert":{"loc-key":"USER_INVITE_TO_NAMED_ROOM",)"
                        R"("loc-args":["Major Tom","Mission Control"]}},)") +
                kIds + "}");
}

TEST(ApnsPayloadTest, InviteToRoomWithAlias) {
  Notification n = Invite();
  n.clear_room_name();
  n.set_room_alias("#mission:example.com");
  EXPECT_EQ(Build(n), std::string(R"({"aps":{"alert":{"loc-key":"USER_INVITE_TO_NAMED_ROOM",)"
                                  R"("loc-args":["Major Tom","#mission:example.com"]}},)") +
                          kIds + "}");
}

TEST(ApnsPayloadTest, InviteToChat) {
  Notification n = Invite();
  n.set_room_name("");
  EXPECT_EQ(Build(n), std::string(R"({"aps":{"alert":{"loc-key":"USER_INVITE_TO_CHAT",)"
                                  R"("loc-args":["Major Tom"]}},)") +
                          kIds + "}");
}

TEST(ApnsPayloadTest, MemberEventNotForUserSendsOnlyBadge) {
  Notification n = Invite();
  n.set_user_is_target(false);
  n.mutable_counts()->set_unread(4);
  EXPECT_EQ(Build(n), R"({"aps":{"badge":4}})");

  Notification join = Invite();
  join.set_membership("join");
  join.mutable_counts()->set_unread(4);
  EXPECT_EQ(Build(join), R"({"aps":{"badge":4}})");
}

TEST(ApnsPayloadTest, MemberEventNotForUserWithoutCountsSendsNothing) {
  Notification n = Invite();
  n.set_user_is_target(false);
  EXPECT_EQ(BuildApnsPayload(n, DeviceWithData("{}")), std::nullopt);
}

TEST(ApnsPayloadTest, UnknownType) {
  Notification n = SpecNotification();
  n.set_type("org.example.custom");
  EXPECT_EQ(Build(n), WithAlert("MSG_FROM_USER", R"(["Major Tom"])"));
}

// --- badge-only, nothing, event_id_only ----------------------------------------

TEST(ApnsPayloadTest, BadgeOnlyUpdate) {
  // Synapse's badge update after a read receipt.
  Notification n;
  n.mutable_counts()->set_unread(0);
  EXPECT_EQ(Build(n), R"({"aps":{"badge":0}})");
  // Without a type, default_payload is not used.
  EXPECT_EQ(Build(n, R"({"default_payload":{"aps":{"sound":"x"},"k":1}})"),
            R"({"aps":{"badge":0}})");
}

TEST(ApnsPayloadTest, MissedCallsAddToBadge) {
  Notification n;
  n.mutable_counts()->set_missed_calls(2);
  EXPECT_EQ(Build(n), R"({"aps":{"badge":2}})");
  n.mutable_counts()->set_unread(5);
  EXPECT_EQ(Build(n), R"({"aps":{"badge":7}})");
}

TEST(ApnsPayloadTest, NothingToSend) {
  Notification n;
  EXPECT_EQ(BuildApnsPayload(n, DeviceWithData("{}")), std::nullopt);
  n.set_room_id("!r:example.com");
  n.set_type("");
  EXPECT_EQ(BuildApnsPayload(n, DeviceWithData("{}")), std::nullopt);
}

Notification EventIdOnly() {
  Notification n;
  n.set_event_id("$3957tyerfgewrf384");
  n.set_room_id("!slw48wfj34rtnrf:example.com");
  n.mutable_counts()->set_unread(2);
  n.mutable_counts()->set_missed_calls(1);
  return n;
}

TEST(ApnsPayloadTest, EventIdOnly) {
  EXPECT_EQ(Build(EventIdOnly(), R"({"format":"event_id_only"})"),
            std::string("{") + kIds + R"(,"unread_count":2,"missed_calls":1})");
}

TEST(ApnsPayloadTest, EventIdOnlyWithoutCountsIsStillSent) {
  Notification n = EventIdOnly();
  n.clear_counts();
  n.clear_room_id();
  EXPECT_EQ(Build(n), R"({"event_id":"$3957tyerfgewrf384"})");
}

TEST(ApnsPayloadTest, EventIdOnlyWithDefaultPayload) {
  const std::string data =
      R"({"format":"event_id_only","default_payload":{"aps":{"mutable-content":1,)"
      R"("alert":{"loc-key":"SINGLE_UNREAD","loc-args":[]}},"event_id":"x","big":12345678901234567}})";
  EXPECT_EQ(Build(EventIdOnly(), data),
            R"({"aps":{"mutable-content":1,"alert":{"loc-key":"SINGLE_UNREAD","loc-args":[]}},)"
            R"("event_id":"$3957tyerfgewrf384","big":12345678901234567,)"
            R"("room_id":"!slw48wfj34rtnrf:example.com","unread_count":2,"missed_calls":1})");
}

TEST(ApnsPayloadTest, EventIdOnlyTooBigIsNothing) {
  EXPECT_EQ(BuildApnsPayload(EventIdOnly(), DeviceWithData(R"({"default_payload":{"x":")" +
                                                           Repeat("a", 5000) + R"("}})")),
            std::nullopt);
}

// --- default_payload -------------------------------------------------------------

TEST(ApnsPayloadTest, DefaultPayloadMerge) {
  const std::string data =
      R"({"default_payload":{"aps":{"sound":"default","mutable-content":1,)"
      R"("alert":{"title":"Herald"},"badge":99},"custom":{"k":[1,2.5,null,true]}}})";
  EXPECT_EQ(
      Build(SpecNotification(), data),
      std::string(
          R"({"aps":{"sound":"default","mutable-content":1,)"
          R"("alert":{"title":"Herald","loc-key":"MSG_FROM_USER_IN_ROOM_WITH_CONTENT",)"
          R"("loc-args":["Major Tom","Mission Control","I'm floating in a most peculiar way."]},)"
          R"("badge":3},"custom":{"k":[1,2.5,null,true]},)") +
          kIds + "}");
}

TEST(ApnsPayloadTest, DefaultPayloadWithNonObjectApsAndAlert) {
  Notification n = SpecNotification();
  n.clear_content_json();
  EXPECT_EQ(Build(n, R"({"default_payload":{"a":1,"aps":"nope"}})"),
            std::string(R"({"a":1,"aps":{"alert":{"loc-key":"MSG_FROM_USER_IN_ROOM",)"
                        R"("loc-args":["Major Tom","Mission Control"]},"badge":3},)") +
                kIds + "}");
  EXPECT_EQ(Build(n, R"({"default_payload":{"aps":{"alert":"text","sound":"s"}}})"),
            std::string(R"({"aps":{"alert":{"loc-key":"MSG_FROM_USER_IN_ROOM",)"
                        R"("loc-args":["Major Tom","Mission Control"]},"sound":"s","badge":3},)") +
                kIds + "}");
}

TEST(ApnsPayloadTest, NonObjectDefaultPayloadIsIgnored) {
  Notification n = SpecNotification();
  n.clear_content_json();
  const std::string expected =
      WithAlert("MSG_FROM_USER_IN_ROOM", R"(["Major Tom","Mission Control"])");
  EXPECT_EQ(Build(n, R"({"default_payload":"x"})"), expected);
  EXPECT_EQ(Build(n, R"({"default_payload":[1]})"), expected);
  EXPECT_EQ(Build(n, "not json"), expected);
  EXPECT_EQ(Build(n, ""), expected);
}

// --- truncation ------------------------------------------------------------------

TEST(ApnsPayloadTest, TruncatesMultiByteBody) {
  const std::string e_acute = "\xC3\xA9";       // é, 2 bytes
  const std::string grin = "\xF0\x9F\x98\x80";  // 😀, 4 bytes
  const std::string body = Repeat(e_acute, 3000) + Repeat(grin, 2000);
  Notification n = SpecNotification();
  n.set_content_json(R"({"msgtype":"m.text","body":")" + body + R"("})");
  std::optional<std::string> payload = BuildApnsPayload(n, DeviceWithData("{}"));
  ASSERT_TRUE(payload.has_value());
  EXPECT_LE(payload->size(), kApnsMaxPayloadBytes);
  EXPECT_GT(payload->size(), kApnsMaxPayloadBytes - 4);  // Cut no more than needed.
  EXPECT_TRUE(IsValidUtf8(*payload));
  rapidjson::Document doc = Parse(*payload);
  EXPECT_EQ(LocArg(doc, 0), "Major Tom");
  EXPECT_EQ(LocArg(doc, 1), "Mission Control");
  const std::string cut = LocArg(doc, 2);
  EXPECT_LT(cut.size(), body.size());
  EXPECT_EQ(cut, body.substr(0, cut.size()));
  EXPECT_EQ(cut, Repeat(e_acute, static_cast<int>(cut.size() / 2)));
  EXPECT_EQ(doc["aps"]["badge"].GetInt(), 3);
  EXPECT_STREQ(doc["event_id"].GetString(), "$3957tyerfgewrf384");
  EXPECT_STREQ(doc["room_id"].GetString(), "!slw48wfj34rtnrf:example.com");
}

TEST(ApnsPayloadTest, TruncationLevelsTheLongestFields) {
  Notification n = SpecNotification();
  n.set_sender_display_name(Repeat("\xF0\x9F\x98\x80", 1024));  // 4096 bytes
  n.set_room_name(Repeat("\xC3\xA9", 1024));                    // 2048 bytes
  n.set_content_json(R"({"msgtype":"m.text","body":")" + Repeat("x", 5000) + R"("})");
  std::optional<std::string> payload = BuildApnsPayload(n, DeviceWithData("{}"));
  ASSERT_TRUE(payload.has_value());
  EXPECT_LE(payload->size(), kApnsMaxPayloadBytes);
  EXPECT_GT(payload->size(), kApnsMaxPayloadBytes - 4);
  rapidjson::Document doc = Parse(*payload);
  const size_t from = LocArg(doc, 0).size(), room = LocArg(doc, 1).size(),
               body = LocArg(doc, 2).size();
  // Each was the longest in turn: they end within one character of each other.
  EXPECT_LE(std::max({from, room, body}) - std::min({from, room, body}), 4u);
  EXPECT_GT(std::min({from, room, body}), 1000u);
}

TEST(ApnsPayloadTest, TruncationCountsEscapes) {
  Notification n = SpecNotification();
  n.set_content_json(R"({"msgtype":"m.text","body":")" + Repeat(R"(\")", 3000) +
                     Repeat(R"(\u0001)", 1000) + R"("})");
  std::optional<std::string> payload = BuildApnsPayload(n, DeviceWithData("{}"));
  ASSERT_TRUE(payload.has_value());
  EXPECT_LE(payload->size(), kApnsMaxPayloadBytes);
  EXPECT_GT(payload->size(), kApnsMaxPayloadBytes - 2);  // '"' is 2 bytes escaped.
  rapidjson::Document doc = Parse(*payload);
  EXPECT_EQ(LocArg(doc, 2), std::string(LocArg(doc, 2).size(), '"'));
}

TEST(ApnsPayloadTest, TruncatesHugeBodyQuickly) {
  Notification n = SpecNotification();
  n.set_content_json(R"({"msgtype":"m.text","body":")" + Repeat("\xE2\x82\xAC", 60000) + R"("})");
  for (int i = 0; i < 20; ++i) {
    std::optional<std::string> payload = BuildApnsPayload(n, DeviceWithData("{}"));
    ASSERT_TRUE(payload.has_value());
    EXPECT_LE(payload->size(), kApnsMaxPayloadBytes);
    EXPECT_GT(payload->size(), kApnsMaxPayloadBytes - 3);
  }
}

TEST(ApnsPayloadTest, TruncateFitsUnchanged) {
  EXPECT_EQ(TruncateApnsPayload(R"({"aps":{"badge":1}})"), R"({"aps":{"badge":1}})");
}

TEST(ApnsPayloadTest, TruncateStringAlert) {
  const std::string payload = R"({"aps":{"alert":")" + Repeat("x", 200) + R"("},"k":1})";
  EXPECT_EQ(TruncateApnsPayload(payload, 50),
            R"({"aps":{"alert":")" + Repeat("x", 24) + R"("},"k":1})");
}

TEST(ApnsPayloadTest, TruncateTiesGoToBodyFirst) {
  const std::string payload = R"({"aps":{"alert":{"body":")" + Repeat("a", 50) +
                              R"(","loc-args":[")" + Repeat("b", 50) + R"(",7]}}})";
  EXPECT_EQ(TruncateApnsPayload(payload, payload.size() - 3),
            R"({"aps":{"alert":{"body":")" + Repeat("a", 48) + R"(","loc-args":[")" +
                Repeat("b", 49) + R"(",7]}}})");
}

TEST(ApnsPayloadTest, TruncateCannotFit) {
  const std::string payload =
      R"({"aps":{"alert":{"loc-args":["abc"]}},"custom":")" + Repeat("z", 100) + R"("})";
  EXPECT_EQ(TruncateApnsPayload(payload, 50), std::nullopt);
  EXPECT_EQ(TruncateApnsPayload(R"({"custom":")" + Repeat("z", 100) + R"("})", 50), std::nullopt);
  EXPECT_EQ(TruncateApnsPayload(Repeat("not json ", 20), 50), std::nullopt);
}

// --- device token --------------------------------------------------------------

TEST(ApnsPayloadTest, DeviceTokenToHex) {
  EXPECT_EQ(DeviceTokenToHex("3q2+7w=="), "deadbeef");
  EXPECT_EQ(DeviceTokenToHex("3q2+7w"), "deadbeef");
  EXPECT_EQ(DeviceTokenToHex("PVqfHCt+ikDx4tPEtaaXiHdmVUQzIhEA/+7dzLuqmYg="),
            "3d5a9f1c2b7e8a40f1e2d3c4b5a697887766554433221100ffeeddccbbaa9988");
  EXPECT_EQ(DeviceTokenToHex("PVqfHCt+ikDx4tPEtaaXiHdmVUQzIhEA/+7dzLuqmYg"),
            "3d5a9f1c2b7e8a40f1e2d3c4b5a697887766554433221100ffeeddccbbaa9988");
  EXPECT_EQ(DeviceTokenToHex("AAAA"), "000000");
  // URL-safe base64, padded or not, as clients also send.
  EXPECT_EQ(DeviceTokenToHex("3q2-7w=="), "deadbeef");
  EXPECT_EQ(DeviceTokenToHex("3q2-7w"), "deadbeef");
  EXPECT_EQ(DeviceTokenToHex("PVqfHCt-ikDx4tPEtaaXiHdmVUQzIhEA_-7dzLuqmYg"),
            "3d5a9f1c2b7e8a40f1e2d3c4b5a697887766554433221100ffeeddccbbaa9988");
}

TEST(ApnsPayloadTest, DeviceTokenToHexRejectsInvalid) {
  EXPECT_EQ(DeviceTokenToHex(""), std::nullopt);
  EXPECT_EQ(DeviceTokenToHex("===="), std::nullopt);
  EXPECT_EQ(DeviceTokenToHex("A"), std::nullopt);
  EXPECT_EQ(DeviceTokenToHex("3q2+7w="), std::nullopt);  // Wrong padding.
  EXPECT_EQ(DeviceTokenToHex("3q2+7w==="), std::nullopt);
  EXPECT_EQ(DeviceTokenToHex("3q2+7w==AA"), std::nullopt);  // Padding inside.
  EXPECT_EQ(DeviceTokenToHex(" 3q2+7w=="), std::nullopt);
  EXPECT_EQ(DeviceTokenToHex("deadbeef!"), std::nullopt);
}

}  // namespace
}  // namespace herald::providers::apns
