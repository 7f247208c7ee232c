#include "bridge/notify_json.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "proto/herald/v1/herald.pb.h"

namespace herald::bridge {
namespace {

using ::herald::v1::Notification;
using ::std::string_literals::operator""s;

Notification FromText(const std::string& text) {
  Notification n;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &n)) << text;
  return n;
}

// `depth` nested arrays: "[[[...]]]".
std::string Nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// A body whose only device carries `data`.
std::string BodyWithData(absl::string_view data) {
  return absl::StrCat(R"({"notification":{"devices":[)", R"({"app_id":"a","pushkey":"k","data":)",
                      data, "}]}}");
}

// -- Valid bodies ---------------------------------------------------------------

struct ValidCase {
  std::string name;
  std::string body;
  // The expected Notification, in protobuf text format.
  std::string expected;
};

class ValidBodyTest : public testing::TestWithParam<ValidCase> {};

TEST_P(ValidBodyTest, ParsesToExpectedProto) {
  const ValidCase& c = GetParam();
  Notification parsed;
  absl::Status error = ParseNotifyBody(c.body, &parsed);
  ASSERT_TRUE(error.ok()) << error;
  Notification expected = FromText(c.expected);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(parsed, expected))
      << "got:\n"
      << parsed.DebugString() << "want:\n"
      << expected.DebugString();
}

const ValidCase kValidCases[] = {
    {
        "SpecExampleWithEveryField",
        R"({
          "notification": {
            "content": {
              "body": "I'm floating in a most peculiar way.",
              "msgtype": "m.text"
            },
            "counts": {"missed_calls": 1, "unread": 2},
            "devices": [
              {
                "app_id": "org.matrix.matrixConsole.ios",
                "data": {},
                "pushkey": "V2h5IG9uIGVhcnRoIGRpZCB5b3UgZGVjb2RlIHRoaXM/",
                "pushkey_ts": 12345678,
                "tweaks": {"sound": "bing"}
              }
            ],
            "event_id": "$3957tyerfgewrf384",
            "membership": "invite",
            "prio": "high",
            "room_alias": "#exampleroom:matrix.org",
            "room_id": "!slw48wfj34rtnrf:example.com",
            "room_name": "Mission Control",
            "sender": "@exampleuser:matrix.org",
            "sender_display_name": "Major Tom",
            "type": "m.room.message",
            "user_is_target": false
          }
        })",
        R"pb(
          event_id: "$3957tyerfgewrf384"
          room_id: "!slw48wfj34rtnrf:example.com"
          type: "m.room.message"
          sender: "@exampleuser:matrix.org"
          sender_display_name: "Major Tom"
          room_name: "Mission Control"
          room_alias: "#exampleroom:matrix.org"
          membership: "invite"
          user_is_target: false
          prio: PRIORITY_HIGH
          content_json: "{\"body\":\"I'm floating in a most peculiar way.\",\"msgtype\":\"m.text\"}"
          counts { unread: 2 missed_calls: 1 }
          devices {
            app_id: "org.matrix.matrixConsole.ios"
            pushkey: "V2h5IG9uIGVhcnRoIGRpZCB5b3UgZGVjb2RlIHRoaXM/"
            pushkey_ts: 12345678
            data_json: "{}"
            tweaks_json: "{\"sound\":\"bing\"}"
          }
        )pb",
    },
    {
        "SynapseBadgeOnly",
        R"({"notification":{"id":"","type":null,"sender":"","counts":{"unread":0},)"
        R"("devices":[{"app_id":"a","pushkey":"k","pushkey_ts":1,"data":{}}]}})",
        R"pb(
          sender: ""
          prio: PRIORITY_HIGH
          counts { unread: 0 }
          devices { app_id: "a" pushkey: "k" pushkey_ts: 1 data_json: "{}" }
        )pb",
    },
    {
        "OnlyDevices",
        R"({"notification":{"devices":[{"app_id":"a","pushkey":"k"}]}})",
        R"pb(
          prio: PRIORITY_HIGH
          devices { app_id: "a" pushkey: "k" }
        )pb",
    },
    {
        "NullMeansAbsent",
        R"({"notification":{"event_id":null,"room_id":null,"type":null,)"
        R"("sender":null,"sender_display_name":null,"room_name":null,)"
        R"("room_alias":null,"membership":null,"user_is_target":null,)"
        R"("prio":null,"content":null,"counts":null,"devices":[)"
        R"({"app_id":"a","pushkey":"k","pushkey_ts":null,"data":null,)"
        R"("tweaks":null}]}})",
        R"pb(
          prio: PRIORITY_HIGH
          devices { app_id: "a" pushkey: "k" }
        )pb",
    },
    {
        "NullCountMembers",
        R"({"notification":{"counts":{"unread":null,"missed_calls":3},)"
        R"("devices":[{"app_id":"a","pushkey":"k"}]}})",
        R"pb(
          prio: PRIORITY_HIGH
          counts { missed_calls: 3 }
          devices { app_id: "a" pushkey: "k" }
        )pb",
    },
    {
        "EmptyCountsIsKept",
        R"({"notification":{"counts":{},"devices":[{"app_id":"a","pushkey":"k"}]}})",
        R"pb(
          prio: PRIORITY_HIGH
          counts {}
          devices { app_id: "a" pushkey: "k" }
        )pb",
    },
    {
        "PrioLowAndUserIsTarget",
        R"({"notification":{"prio":"low","user_is_target":true,)"
        R"("devices":[{"app_id":"a","pushkey":"k"}]}})",
        R"pb(
          user_is_target: true
          prio: PRIORITY_LOW
          devices { app_id: "a" pushkey: "k" }
        )pb",
    },
    {
        "LargeIntegersKeptExactly",
        BodyWithData(R"({"a":9007199254740993,"b":18446744073709551615,)"
                     R"("c":-9223372036854775808,"d":123456789012345678901234567890})"),
        R"pb(
          prio: PRIORITY_HIGH
          devices {
            app_id: "a"
            pushkey: "k"
            data_json: "{\"a\":9007199254740993,\"b\":18446744073709551615,\"c\":-9223372036854775808,\"d\":123456789012345678901234567890}"
          }
        )pb",
    },
    {
        "NumbersKeepTheirSpelling",
        BodyWithData(R"({"f":1.50,"e":1E2,"z":-0,"x":0.1e-7})"),
        R"pb(
          prio: PRIORITY_HIGH
          devices {
            app_id: "a"
            pushkey: "k"
            data_json: "{\"f\":1.50,\"e\":1E2,\"z\":-0,\"x\":0.1e-7}"
          }
        )pb",
    },
    {
        "KeyOrderKeptWhitespaceDropped",
        BodyWithData(R"({ "z" : 1 , "a" : [ true , false , null ] ,
                          "m" : { "y" : {} , "b" : [] } })"),
        R"pb(
          prio: PRIORITY_HIGH
          devices {
            app_id: "a"
            pushkey: "k"
            data_json: "{\"z\":1,\"a\":[true,false,null],\"m\":{\"y\":{},\"b\":[]}}"
          }
        )pb",
    },
    {
        "UnicodeStrings",
        R"({"notification":{"room_name":"Caf\u00e9 ☕ 日本 \ud83d\ude00",)"
        R"("sender_display_name":"Zoë","content":{"body":"ñ\u65e5"},)"
        R"("devices":[{"app_id":"a","pushkey":"k"}]}})",
        R"pb(
          sender_display_name: "Zoë"
          room_name: "Café ☕ 日本 😀"
          prio: PRIORITY_HIGH
          content_json: "{\"body\":\"ñ日\"}"
          devices { app_id: "a" pushkey: "k" }
        )pb",
    },
    {
        "EscapesInsideRawObjects",
        R"({"notification":{"content":{"body":"q\"b\\n\nc\u0001s\/"},)"
        R"("devices":[{"app_id":"a","pushkey":"k","tweaks":{"sound":"a\tb"}}]}})",
        R"pb(
          prio: PRIORITY_HIGH
          content_json: "{\"body\":\"q\\\"b\\\\n\\nc\\u0001s/\"}"
          devices { app_id: "a" pushkey: "k" tweaks_json: "{\"sound\":\"a\\tb\"}" }
        )pb",
    },
    {
        "UnknownFieldsIgnored",
        R"({"extra":[1,{"x":null}],"notification":{"id":"$old","future":{"a":[]},)"
        R"("devices":[{"app_id":"a","pushkey":"k","other":1e300}]}})",
        R"pb(
          prio: PRIORITY_HIGH
          devices { app_id: "a" pushkey: "k" }
        )pb",
    },
    {
        "SeveralDevices",
        R"({"notification":{"devices":[{"app_id":"a","pushkey":"k1"},)"
        R"({"app_id":"b","pushkey":"k2","pushkey_ts":-5}]}})",
        R"pb(
          prio: PRIORITY_HIGH
          devices { app_id: "a" pushkey: "k1" }
          devices { app_id: "b" pushkey: "k2" pushkey_ts: -5 }
        )pb",
    },
    {
        "DepthAtTheLimit",
        // root, notification, devices, device and data are 5 levels.
        BodyWithData(absl::StrCat(R"({"n":)", Nested(kMaxNotifyJsonDepth - 5), "}")),
        // Kept as written: clang-format would break the raw string.
        // clang-format off
        absl::StrCat(R"pb(
                       prio: PRIORITY_HIGH
                       devices { app_id: "a" pushkey: "k" data_json: "{\"n\":)pb",
                     Nested(kMaxNotifyJsonDepth - 5), R"pb(}" })pb"),
        // clang-format on
    },
};

INSTANTIATE_TEST_SUITE_P(Bodies, ValidBodyTest, testing::ValuesIn(kValidCases),
                         [](const testing::TestParamInfo<ValidCase>& info) {
                           return info.param.name;
                         });

// -- Invalid bodies ---------------------------------------------------------------

struct InvalidCase {
  std::string name;
  std::string body;
  // The Matrix errcode.
  const char* errcode;
  // The message must start with this field name followed by a space; empty
  // for M_NOT_JSON, whose message names no field.
  std::string field;
};

class InvalidBodyTest : public testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidBodyTest, FailsNamingTheField) {
  const InvalidCase& c = GetParam();
  Notification parsed;
  parsed.set_room_name("untouched");
  absl::Status error = ParseNotifyBody(c.body, &parsed);
  ASSERT_TRUE(absl::IsInvalidArgument(error)) << error;
  EXPECT_STREQ(ErrCode(error), c.errcode) << error.message();
  if (!c.field.empty()) {
    EXPECT_TRUE(absl::StartsWith(error.message(), absl::StrCat(c.field, " ")))
        << "message: " << error.message() << "\nfield: " << c.field;
  }
  // `out` is left alone on error.
  EXPECT_EQ(parsed.room_name(), "untouched");
  EXPECT_EQ(parsed.devices_size(), 0);
}

// A body whose `notification` object is {<members>, "devices": [<devices>]}.
std::string Body(absl::string_view members, absl::string_view devices) {
  return absl::StrCat(R"({"notification":{)", members, members.empty() ? "" : ",", R"("devices":[)",
                      devices, "]}}");
}
// A body whose only device is {"app_id":"a","pushkey":"k",<members>}.
std::string DeviceBody(absl::string_view members) {
  return Body("", absl::StrCat(R"({"app_id":"a","pushkey":"k",)", members, "}"));
}
constexpr char kDevice[] = R"({"app_id":"a","pushkey":"k"})";

constexpr char kNotJson[] = "M_NOT_JSON";
constexpr char kBadJson[] = "M_BAD_JSON";

const InvalidCase kInvalidCases[] = {
    // Not JSON.
    {"Empty", "", kNotJson, ""},
    {"Whitespace", "  \n", kNotJson, ""},
    {"PlainText", "hello", kNotJson, ""},
    {"Truncated", R"({"notification":{"devices":[)", kNotJson, ""},
    {"SingleQuotes", "{'notification':{}}", kNotJson, ""},
    {"InvalidUtf8InString",
     Body(R"("room_name":"caf)"
          "\xe9"
          R"(")",
          kDevice),
     kNotJson, ""},
    {"InvalidUtf8Bytes", "{\"notification\":{\"a\":\"\xff\xfe\"}}", kNotJson, ""},
    {"OverlongUtf8", "{\"notification\":{\"a\":\"\xc0\xaf\"}}", kNotJson, ""},
    {"LoneSurrogateEscape", Body(R"("room_name":"\ud800")", kDevice), kNotJson, ""},
    // A lone low surrogate would become bytes that are not UTF-8 (and a
    // protobuf message the dispatcher cannot parse): in any string or key.
    {"LoneLowSurrogateInRoomId", Body(R"("room_id":"\udc00")", kDevice), kNotJson, ""},
    {"LoneLowSurrogateInContent", Body(R"("content":{"body":"x\udfffy"})", kDevice), kNotJson, ""},
    {"LoneLowSurrogateInKey", Body(R"("content":{"\udc80":1})", kDevice), kNotJson, ""},
    {"LoneLowSurrogateInAppId",
     R"({"notification":{"devices":[{"app_id":"\udc00","pushkey":"k"}]}})", kNotJson, ""},
    {"LoneLowSurrogateInPushkey",
     R"({"notification":{"devices":[{"app_id":"a","pushkey":"k\udc00"}]}})", kNotJson, ""},
    {"Utf8Bom", "\xef\xbb\xbf" + Body("", kDevice), kNotJson, ""},
    {"TrailingGarbage", Body("", kDevice) + " x", kNotJson, ""},
    {"TwoValues", Body("", kDevice) + Body("", kDevice), kNotJson, ""},
    {"NulThenGarbage", Body("", kDevice) + "\0garbage"s, kNotJson, ""},
    {"NumberOutOfDoubleRange", DeviceBody(R"("data":{"x":1e400})"), kNotJson, ""},

    // Wrong top-level shape.
    {"TopLevelArray", "[" + Body("", kDevice) + "]", kBadJson, "body"},
    {"TopLevelString", R"("notification")", kBadJson, "body"},
    {"MissingNotification", R"({"devices":[{"app_id":"a","pushkey":"k"}]})", kBadJson,
     "notification"},
    {"NotificationNull", R"({"notification":null})", kBadJson, "notification"},
    {"NotificationArray", R"({"notification":[]})", kBadJson, "notification"},
    {"TooDeep", BodyWithData(absl::StrCat(R"({"n":)", Nested(kMaxNotifyJsonDepth - 4), "}")),
     kBadJson, "body"},
    {"HugelyDeep", std::string(200000, '['), kBadJson, "body"},

    // Devices.
    {"DevicesMissing", R"({"notification":{"event_id":"$e"}})", kBadJson, "notification.devices"},
    {"DevicesNull", R"({"notification":{"devices":null}})", kBadJson, "notification.devices"},
    {"DevicesEmpty", Body("", ""), kBadJson, "notification.devices"},
    {"DevicesObject", R"({"notification":{"devices":{"app_id":"a"}}})", kBadJson,
     "notification.devices"},
    {"DevicesString", R"({"notification":{"devices":"k"}})", kBadJson, "notification.devices"},
    {"DeviceNotObject", Body("", R"("k")"), kBadJson, "notification.devices[0]"},
    {"SecondDeviceNull", Body("", absl::StrCat(kDevice, ",null")), kBadJson,
     "notification.devices[1]"},
    {"AppIdMissing", Body("", R"({"pushkey":"k"})"), kBadJson, "notification.devices[0].app_id"},
    {"AppIdNumber", Body("", R"({"app_id":1,"pushkey":"k"})"), kBadJson,
     "notification.devices[0].app_id"},
    {"AppIdEmpty", Body("", R"({"app_id":"","pushkey":"k"})"), kBadJson,
     "notification.devices[0].app_id"},
    {"PushkeyMissing", Body("", R"({"app_id":"a"})"), kBadJson, "notification.devices[0].pushkey"},
    {"PushkeyNull", Body("", R"({"app_id":"a","pushkey":null})"), kBadJson,
     "notification.devices[0].pushkey"},
    {"PushkeyEmpty", Body("", R"({"app_id":"a","pushkey":""})"), kBadJson,
     "notification.devices[0].pushkey"},
    {"PushkeyNumber", Body("", R"({"app_id":"a","pushkey":12})"), kBadJson,
     "notification.devices[0].pushkey"},
    {"ThirdPushkeyMissing", Body("", absl::StrCat(kDevice, ",", kDevice, R"(,{"app_id":"a"})")),
     kBadJson, "notification.devices[2].pushkey"},
    {"PushkeyTsString", DeviceBody(R"("pushkey_ts":"12")"), kBadJson,
     "notification.devices[0].pushkey_ts"},
    {"PushkeyTsFloat", DeviceBody(R"("pushkey_ts":1.5)"), kBadJson,
     "notification.devices[0].pushkey_ts"},
    {"PushkeyTsExponent", DeviceBody(R"("pushkey_ts":1e3)"), kBadJson,
     "notification.devices[0].pushkey_ts"},
    {"PushkeyTsOverflow", DeviceBody(R"("pushkey_ts":9223372036854775808)"), kBadJson,
     "notification.devices[0].pushkey_ts"},
    {"DataArray", DeviceBody(R"("data":[])"), kBadJson, "notification.devices[0].data"},
    {"DataString", DeviceBody(R"("data":"{}")"), kBadJson, "notification.devices[0].data"},
    {"TweaksString", DeviceBody(R"("tweaks":"sound")"), kBadJson, "notification.devices[0].tweaks"},

    // Counts.
    {"CountsString", Body(R"("counts":"2")", kDevice), kBadJson, "notification.counts"},
    {"CountsArray", Body(R"("counts":[2])", kDevice), kBadJson, "notification.counts"},
    {"UnreadString", Body(R"("counts":{"unread":"2"})", kDevice), kBadJson,
     "notification.counts.unread"},
    {"UnreadNegative", Body(R"("counts":{"unread":-1})", kDevice), kBadJson,
     "notification.counts.unread"},
    {"UnreadFloat", Body(R"("counts":{"unread":2.5})", kDevice), kBadJson,
     "notification.counts.unread"},
    {"MissedCallsBool", Body(R"("counts":{"missed_calls":true})", kDevice), kBadJson,
     "notification.counts.missed_calls"},

    // Other notification fields.
    {"PrioUrgent", Body(R"("prio":"urgent")", kDevice), kBadJson, "notification.prio"},
    {"PrioUpperCase", Body(R"("prio":"HIGH")", kDevice), kBadJson, "notification.prio"},
    {"PrioNumber", Body(R"("prio":10)", kDevice), kBadJson, "notification.prio"},
    {"RoomNameNumber", Body(R"("room_name":42)", kDevice), kBadJson, "notification.room_name"},
    {"TypeBool", Body(R"("type":true)", kDevice), kBadJson, "notification.type"},
    {"EventIdObject", Body(R"("event_id":{})", kDevice), kBadJson, "notification.event_id"},
    {"MembershipArray", Body(R"("membership":["invite"])", kDevice), kBadJson,
     "notification.membership"},
    {"UserIsTargetString", Body(R"("user_is_target":"true")", kDevice), kBadJson,
     "notification.user_is_target"},
    {"ContentString", Body(R"("content":"hello")", kDevice), kBadJson, "notification.content"},
    {"ContentArray", Body(R"("content":[])", kDevice), kBadJson, "notification.content"},
};

INSTANTIATE_TEST_SUITE_P(Bodies, InvalidBodyTest, testing::ValuesIn(kInvalidCases),
                         [](const testing::TestParamInfo<InvalidCase>& info) {
                           return info.param.name;
                         });

// -- Other properties -------------------------------------------------------------

TEST(NotifyJsonTest, ErrCodes) {
  Notification parsed;
  EXPECT_STREQ(ErrCode(ParseNotifyBody("{", &parsed)), "M_NOT_JSON");
  EXPECT_STREQ(ErrCode(ParseNotifyBody("{}", &parsed)), "M_BAD_JSON");
}

TEST(NotifyJsonTest, ErrorMessagesNeverContainThePushkey) {
  constexpr char kPushkey[] = "SeCrEtPuShKeY";
  const std::string device = absl::StrCat(R"({"app_id":"a","pushkey":")", kPushkey, R"(")");
  const std::vector<std::string> bodies = {
      // The pushkey itself is of the wrong type.
      Body("", absl::StrCat(R"({"app_id":"a","pushkey":[")", kPushkey, R"("]})")),
      Body("", absl::StrCat(R"({"app_id":"a","pushkey":{")", kPushkey, R"(":1}})")),
      // The pushkey is fine, something next to it is not.
      Body("", absl::StrCat(device, R"(,"pushkey_ts":"1"})")),
      Body("", absl::StrCat(device, R"(,"data":[")", kPushkey, R"("]})")),
      Body("", absl::StrCat(device, R"(,"tweaks":")", kPushkey, R"("})")),
      Body("", absl::StrCat(R"({"pushkey":")", kPushkey, R"("})")),
      Body("", absl::StrCat(device, "},", R"({"pushkey":")", kPushkey, R"(","app_id":7})")),
      Body(R"("prio":"x")", absl::StrCat(device, "}")),
      Body(absl::StrCat(R"("room_name":[")", kPushkey, R"("])"), absl::StrCat(device, "}")),
      // Syntax and encoding errors right after or inside the pushkey.
      absl::StrCat(R"({"notification":{"devices":[)", device, " x"),
      absl::StrCat(R"({"notification":{"devices":[)", device),
      absl::StrCat(R"({"notification":{"devices":[{"pushkey":")", kPushkey, "\xff\"}]}}"),
      absl::StrCat(R"({"notification":{"devices":[{"pushkey":")", kPushkey, "\\q\"}]}}"),
      absl::StrCat(Body("", absl::StrCat(device, "}")), kPushkey),
  };
  for (const std::string& body : bodies) {
    Notification parsed;
    absl::Status error = ParseNotifyBody(body, &parsed);
    ASSERT_FALSE(error.ok()) << body;
    EXPECT_FALSE(absl::StrContains(error.message(), kPushkey))
        << "body: " << body << "\nmessage: " << error.message();
  }
}

TEST(NotifyJsonTest, MessagesAreReadable) {
  Notification parsed;
  absl::Status error = ParseNotifyBody(Body("", R"({"app_id":"a","pushkey":5})"), &parsed);
  EXPECT_EQ(error.message(), "notification.devices[0].pushkey must be a non-empty string");

  error = ParseNotifyBody("{", &parsed);
  EXPECT_TRUE(absl::StartsWith(error.message(), "body is not valid UTF-8 JSON")) << error;
}

TEST(NotifyJsonTest, ReplacesPreviousContentsOnSuccess) {
  Notification parsed;
  parsed.set_room_name("stale");
  parsed.add_devices()->set_pushkey("stale");
  ASSERT_TRUE(ParseNotifyBody(Body("", kDevice), &parsed).ok());
  EXPECT_FALSE(parsed.has_room_name());
  ASSERT_EQ(parsed.devices_size(), 1);
  EXPECT_EQ(parsed.devices(0).pushkey(), "k");
}

}  // namespace
}  // namespace herald::bridge
