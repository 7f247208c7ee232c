#include "providers/common/fit_json.h"

#include <string>

#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace herald::providers {
namespace {

rapidjson::Document Parse(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  EXPECT_FALSE(doc.HasParseError()) << text;
  return doc;
}

std::optional<std::string> Fit(const std::string& json, size_t max) {
  return FitJsonObject(Parse(json), max, NotificationFitSteps({}));
}

const std::string kEll = "\xE2\x80\xA6";

TEST(FitJson, UnchangedWhenItFits) {
  const std::string json = R"({"room_name":"r","content":{"body":"hi"}})";
  EXPECT_EQ(Fit(json, json.size()), json);
}

TEST(FitJson, CutsTheBodyFirstToTheLongestPrefix) {
  const std::string json = R"({"room_name":"Room","content":{"body":"abcdefghij"}})";
  // 52 bytes; at most 49: "abcd" + "…" (3 bytes) fills 49 exactly.
  EXPECT_EQ(Fit(json, 49), R"({"room_name":"Room","content":{"body":"abcd)" + kEll + R"("}})");
  EXPECT_EQ(Fit(json, 50), R"({"room_name":"Room","content":{"body":"abcde)" + kEll + R"("}})");
}

TEST(FitJson, NeverSplitsACharacterAndCountsEscapes) {
  // "é" is 2 bytes; a quote is escaped to 2 bytes.
  const std::string json = "{\"content\":{\"body\":\"\xC3\xA9\xC3\xA9\\\"\xC3\xA9\"}}";
  for (size_t max = 2; max < json.size(); ++max) {
    std::optional<std::string> out = Fit(json, max);
    ASSERT_TRUE(out.has_value()) << max;
    EXPECT_LE(out->size(), max);
    rapidjson::Document doc = Parse(*out);
    if (!doc.HasMember("content")) {
      EXPECT_EQ(*out, "{}");  // below the room "…" needs
      continue;
    }
    std::string body = doc["content"]["body"].GetString();
    EXPECT_EQ(body.substr(body.size() - 3), kEll) << max;
  }
}

TEST(FitJson, ThenTheNamesThenDropsContent) {
  const std::string name(200, 'n');
  const std::string json = R"({"sender_display_name":")" + name + R"(","room_name":")" + name +
                           R"(","content":{"body":"hello"}})";
  // The body alone cannot make room; the display name is cut next.
  std::optional<std::string> out = Fit(json, 300);
  ASSERT_TRUE(out.has_value());
  rapidjson::Document doc = Parse(*out);
  EXPECT_EQ(doc["content"]["body"].GetString(), kEll);
  EXPECT_EQ(std::string(doc["room_name"].GetString()), name);
  EXPECT_LE(out->size(), 300u);
  EXPECT_GT(std::string(doc["sender_display_name"].GetString()).size(), 3u);
}

TEST(FitJson, DroppingContentKeepsTheNamesWhole) {
  const std::string json = R"({"room_name":"Mission Control","content":{"body":"hi","x":")" +
                           std::string(500, 'x') + R"("}})";
  EXPECT_EQ(Fit(json, 100), R"({"room_name":"Mission Control"})");
}

TEST(FitJson, NestedPrefixAndNothingToCut) {
  const std::string json = R"({"notification":{"room_name":"abcdefghij","content":{"body":"x"}}})";
  std::optional<std::string> out =
      FitJsonObject(Parse(json), 40, NotificationFitSteps({"notification"}));
  EXPECT_EQ(out, R"({"notification":{"room_name":"abcd)" + kEll + R"("}})");
  EXPECT_EQ(Fit(R"({"event_id":")" + std::string(100, 'e') + R"("})", 50), std::nullopt);
  EXPECT_EQ(FitJsonObject(Parse("[1]"), 50, NotificationFitSteps({})), std::nullopt);
}

}  // namespace
}  // namespace herald::providers
