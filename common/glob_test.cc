#include "common/glob.h"

#include "gtest/gtest.h"

namespace herald {
namespace {

struct Case {
  const char* pattern;
  const char* text;
  bool match;
};

TEST(GlobMatch, Table) {
  const Case cases[] = {
      {"im.vector.app.ios", "im.vector.app.ios", true},
      {"im.vector.app.ios", "im.vector.app.ios.prod", false},
      {"im.vector.*", "im.vector.app.ios", true},
      {"im.vector.*", "im.vector.", true},
      {"im.vector.*", "im.vector", false},
      {"*.android", "im.vector.app.android", true},
      {"*.android", "android", false},
      {"org.unifiedpush.*", "org.unifiedpush.android.distributor", true},
      {"*", "", true},
      {"*", "anything", true},
      {"", "", true},
      {"", "a", false},
      {"a?c", "abc", true},
      {"a?c", "ac", false},
      {"a*b*c", "axxbyyc", true},
      {"a*b*c", "axxbyy", false},
      {"*.example.org", "push.example.org", true},
      {"*.example.org", "example.org", false},
      {"*.example.org", "evil.org/.example.org", true},  // hosts only: caller passes a host
      {"A*", "a", false},                                // case-sensitive
      {"**a", "bbba", true},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(GlobMatch(c.pattern, c.text), c.match)
        << "pattern=" << c.pattern << " text=" << c.text;
  }
}

TEST(GlobMatch, HostilePatternIsFast) {
  std::string text(5000, 'a');
  std::string pattern;
  for (int i = 0; i < 50; ++i) pattern += "*a";
  pattern += "b";
  EXPECT_FALSE(GlobMatch(pattern, text));
}

TEST(IsGlob, Wildcards) {
  EXPECT_TRUE(IsGlob("a.*"));
  EXPECT_TRUE(IsGlob("a?"));
  EXPECT_FALSE(IsGlob("im.vector.app"));
}

}  // namespace
}  // namespace herald
