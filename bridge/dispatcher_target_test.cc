#include "bridge/dispatcher_target.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace herald::bridge {
namespace {

using Kind = DispatcherTarget::Kind;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(DispatcherTargetTest, NamesAreResolvedAgainAndKeepTheirPort) {
  for (const char* given :
       {"dns:///herald-dispatcher:50051", "dns://8.8.8.8/herald-dispatcher:50051",
        "dns:herald-dispatcher:50051", "herald-dispatcher:50051"}) {
    absl::StatusOr<DispatcherTarget> t = ParseDispatcherTarget(given);
    ASSERT_TRUE(t.ok()) << given << ": " << t.status();
    EXPECT_EQ(t->kind, Kind::kDns) << given;
    EXPECT_EQ(t->host, "herald-dispatcher") << given;
    EXPECT_EQ(t->port, "50051") << given;
  }
  absl::StatusOr<DispatcherTarget> v6 = ParseDispatcherTarget("dns:///[::1]:7000");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->host, "::1");
}

TEST(DispatcherTargetTest, AddressListsAreOneDispatcherEach) {
  absl::StatusOr<DispatcherTarget> t =
      ParseDispatcherTarget("ipv4:127.0.0.1:7002,127.0.0.1:7001,127.0.0.1:7002");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->kind, Kind::kStatic);
  EXPECT_THAT(t->fixed, ElementsAre("ipv4:127.0.0.1:7001", "ipv4:127.0.0.1:7002"));
  absl::StatusOr<std::vector<std::string>> resolved = ResolveDispatcherTarget(*t);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(*resolved, t->fixed);

  absl::StatusOr<DispatcherTarget> v6 = ParseDispatcherTarget("ipv6:[::1]:7001,[fd00::2]:7001");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_THAT(v6->fixed, ElementsAre("ipv6:[::1]:7001", "ipv6:[fd00::2]:7001"));
}

TEST(DispatcherTargetTest, OtherSchemesAreOneChannelAsGiven) {
  absl::StatusOr<DispatcherTarget> t = ParseDispatcherTarget("unix:/run/herald/dispatcher.sock");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->kind, Kind::kSingle);
  EXPECT_THAT(t->fixed, ElementsAre("unix:/run/herald/dispatcher.sock"));
}

TEST(DispatcherTargetTest, MistakesSayWhatIsWrong) {
  struct Case {
    const char* target;
    const char* says;
  } cases[] = {
      {"", "empty"},
      {"dns:///herald-dispatcher", "port is required"},
      {"herald-dispatcher:0", "port is required"},
      {"herald-dispatcher:http", "port is required"},
      {"dns://herald-dispatcher:50051", "expected dns:///host:port"},
      {"ipv4:127.0.0.1", "not address:port"},
      {"ipv4:localhost:5000", "not an IPv4 address"},
      {"ipv6:[127.0.0.1]:5000", "not an IPv6 address"},
      {"ipv6:::1:5000", "not address:port"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<DispatcherTarget> t = ParseDispatcherTarget(c.target);
    ASSERT_FALSE(t.ok()) << c.target;
    EXPECT_THAT(t.status().message(), HasSubstr(c.says)) << c.target;
    EXPECT_THAT(t.status().message(), HasSubstr("dispatcher.target")) << c.target;
  }
}

TEST(DispatcherTargetTest, LoopbackNamesResolveToTheirAddresses) {
  absl::StatusOr<DispatcherTarget> t = ParseDispatcherTarget("dns:///127.0.0.1:6000");
  ASSERT_TRUE(t.ok());
  absl::StatusOr<std::vector<std::string>> resolved = ResolveDispatcherTarget(*t);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_THAT(*resolved, ElementsAre("ipv4:127.0.0.1:6000"));
}

}  // namespace
}  // namespace herald::bridge
