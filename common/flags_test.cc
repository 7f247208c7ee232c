#include "common/flags.h"

#include "absl/flags/flag.h"
#include "gtest/gtest.h"

ABSL_FLAG(bool, test_only_switch, false, "a flag with an underscore, for the test");

namespace herald {
namespace {

TEST(FlagSpelling, DashesInAFlagsNameAreUnderscores) {
  EXPECT_EQ(FlagSpelling("--ready-file"), "--ready_file");
  EXPECT_EQ(FlagSpelling("--ready-file=/tmp/a-b"), "--ready_file=/tmp/a-b");
  EXPECT_EQ(FlagSpelling("--ready_file"), "--ready_file");
  EXPECT_EQ(FlagSpelling("--test-only-switch"), "--test_only_switch");
  EXPECT_EQ(FlagSpelling("--config=x.yaml"), "--config=x.yaml");
  EXPECT_EQ(FlagSpelling("-h"), "--help");
}

TEST(FlagSpelling, ValuesAndUnknownNamesStayAsGiven) {
  // A value after "--config" that looks like a flag is not one of ours.
  EXPECT_EQ(FlagSpelling("--my-conf.yaml"), "--my-conf.yaml");
  EXPECT_EQ(FlagSpelling("--no-such-flag"), "--no-such-flag");
  EXPECT_EQ(FlagSpelling("/etc/herald-dispatcher.yaml"), "/etc/herald-dispatcher.yaml");
  EXPECT_EQ(FlagSpelling("--"), "--");
  EXPECT_EQ(FlagSpelling("-"), "-");
  EXPECT_EQ(FlagSpelling(""), "");
}

}  // namespace
}  // namespace herald
