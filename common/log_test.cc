#include "common/log.h"

#include "gtest/gtest.h"

namespace herald {
namespace {

TEST(RedactPushkey, KeepsOnlyAPrefix) {
  std::string key = "6Vq2U0ZwRz5A1bYkP7mJ8sN3tF4hG9cL0xQ==";
  std::string shown = RedactPushkey(key);
  EXPECT_EQ(shown, "6Vq2U0…(37 chars, #b5386a6d)");
  EXPECT_EQ(shown.find(key.substr(6)), std::string::npos);
}

TEST(RedactPushkey, UrlKeepsOriginOnly) {
  EXPECT_EQ(RedactPushkey("https://ntfy.example.org/upAbCdEfSecretToken?up=1"),
            "https://ntfy.example.org/…(49 chars, #430d4071)");
  EXPECT_EQ(RedactPushkey("https://user:pass@push.example.org/x"),
            "https://push.example.org/…(36 chars, #c56b736b)");
}

TEST(RedactPushkey, ShortKeysShowNothing) {
  EXPECT_EQ(RedactPushkey("abc"), "…(3 chars, #1a47e90b)");
  // The hash tells keys apart, and the same key always reads the same.
  EXPECT_NE(RedactPushkey("abd"), RedactPushkey("abc"));
  EXPECT_EQ(RedactPushkey("abc"), RedactPushkey("abc"));
}

TEST(ParseLogLevel, Names) {
  LogLevel level;
  EXPECT_TRUE(ParseLogLevel("DEBUG", &level));
  EXPECT_EQ(level, LogLevel::kDebug);
  EXPECT_TRUE(ParseLogLevel("warn", &level));
  EXPECT_EQ(level, LogLevel::kWarning);
  EXPECT_FALSE(ParseLogLevel("loud", &level));
}

}  // namespace
}  // namespace herald
