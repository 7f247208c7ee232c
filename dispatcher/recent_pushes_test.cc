#include "dispatcher/recent_pushes.h"

#include "gtest/gtest.h"

namespace herald::dispatcher {
namespace {

using State = RecentPushes::State;

TEST(RecentPushes, FirstPushGoesOutThenItsOutcomeIsRemembered) {
  RecentPushes recent(1000, absl::Minutes(10));
  absl::Time t = absl::FromUnixSeconds(1700000000);
  auto key = RecentPushes::MakeKey("$e", "app", "pushkey");
  EXPECT_EQ(recent.Begin(key, t), std::nullopt);
  EXPECT_EQ(recent.Begin(key, t), State::kInFlight);  // a retry while it is out
  recent.End(key, State::kDelivered, t);
  EXPECT_EQ(recent.Begin(key, t + absl::Minutes(9)), State::kDelivered);
  // Forgotten after the ttl: pushed again.
  EXPECT_EQ(recent.Begin(key, t + absl::Minutes(11)), std::nullopt);
}

TEST(RecentPushes, FailuresAreForgottenSoARetryPushes) {
  RecentPushes recent(1000, absl::Minutes(10));
  absl::Time t = absl::FromUnixSeconds(1700000000);
  auto key = RecentPushes::MakeKey("$e", "app", "k");
  EXPECT_EQ(recent.Begin(key, t), std::nullopt);
  recent.End(key, std::nullopt, t);
  EXPECT_EQ(recent.Begin(key, t), std::nullopt);
  recent.End(key, State::kRejected, t);
  EXPECT_EQ(recent.Begin(key, t), State::kRejected);
}

TEST(RecentPushes, KeysDifferByEachPart) {
  EXPECT_NE(RecentPushes::MakeKey("$e", "app", "k"), RecentPushes::MakeKey("$e2", "app", "k"));
  EXPECT_NE(RecentPushes::MakeKey("$e", "app", "k"), RecentPushes::MakeKey("$e", "app2", "k"));
  EXPECT_NE(RecentPushes::MakeKey("$e", "app", "k"), RecentPushes::MakeKey("$e", "app", "k2"));
  // The separator keeps the parts apart.
  EXPECT_NE(RecentPushes::MakeKey("ab", "c", "k"), RecentPushes::MakeKey("a", "bc", "k"));
}

TEST(RecentPushes, MemoryIsBounded) {
  RecentPushes recent(1600, absl::Hours(1));
  absl::Time t = absl::FromUnixSeconds(1700000000);
  for (int i = 0; i < 100000; ++i) {
    auto key = RecentPushes::MakeKey("$e" + std::to_string(i), "app", "k");
    recent.Begin(key, t);
    recent.End(key, i % 2 ? std::optional<State>(State::kDelivered) : std::nullopt, t);
  }
  EXPECT_LE(recent.size(), 1600u);
  // The newest are still known.
  EXPECT_EQ(recent.Begin(RecentPushes::MakeKey("$e99999", "app", "k"), t), State::kDelivered);
}

TEST(RecentPushes, ZeroEntriesDisablesIt) {
  RecentPushes recent(0, absl::Minutes(10));
  auto key = RecentPushes::MakeKey("$e", "app", "k");
  absl::Time t = absl::Now();
  EXPECT_EQ(recent.Begin(key, t), std::nullopt);
  recent.End(key, State::kDelivered, t);
  EXPECT_EQ(recent.Begin(key, t), std::nullopt);
}

}  // namespace
}  // namespace herald::dispatcher
