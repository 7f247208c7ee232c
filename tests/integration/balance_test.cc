// Several dispatchers behind one bridge: the load spreads over all of them,
// one added (or restarted) behind a running bridge takes traffic, and one
// that dies costs no more than the notifications it held.
#include <signal.h>

#include <array>
#include <atomic>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace herald::testing {
namespace {

constexpr int kDispatchers = 3;

// Three dispatchers (each with its own config: listen and metrics ports)
// and one bridge whose target lists all three.
class Fleet {
 public:
  Fleet() : dir_(TempDir() + "/fleet") {
    EXPECT_EQ(std::system(absl::StrCat("mkdir -p '", dir_, "'").c_str()), 0);
    std::vector<std::string> addresses;
    for (int i = 0; i < kDispatchers; ++i) {
      grpc_[i] = FreePort();
      metrics_[i] = FreePort();
      addresses.push_back(absl::StrCat("127.0.0.1:", grpc_[i]));
    }
    target_ = "ipv4:" + absl::StrJoin(addresses, ",");
    for (int i = 0; i < kDispatchers; ++i) {
      WriteFile(Config(i),
                absl::StrCat(Common(), "  listen: 127.0.0.1:", grpc_[i],
                             "\n  metrics_listen: 127.0.0.1:", metrics_[i], "\n", Apps()));
    }
    WriteFile(Config(-1), absl::StrCat("http:\n  bind_addresses: ['127.0.0.1']\n  port: 0\n",
                                       Common(), Apps()));
  }

  void StartDispatcher(int i) {
    StartService(&dispatchers_[i], "dispatcher", Config(i), dir_,
                 absl::StrCat("dispatcher", i, "-", ++starts_));
  }
  void StartBridge() { port_ = StartService(&bridge_, "bridge", Config(-1), dir_); }

  Process& dispatcher(int i) { return dispatchers_[i]; }
  Process& bridge() { return bridge_; }
  std::string notify_url() const {
    return absl::StrCat("http://127.0.0.1:", port_, "/_matrix/push/v1/notify");
  }
  // Notifications dispatcher `i` took since it started (-1: not running).
  int Taken(int i) const {
    HttpResult r = HttpCall("GET", absl::StrCat("http://127.0.0.1:", metrics_[i], "/metrics"), "",
                            {}, absl::Seconds(2));
    if (r.status != 200) return -1;
    return static_cast<int>(MetricValue(r.body, "herald_dispatch_notifications_total"));
  }
  std::string Counts() const {
    std::vector<std::string> out;
    for (int i = 0; i < kDispatchers; ++i) out.push_back(absl::StrCat(Taken(i)));
    return absl::StrJoin(out, " / ");
  }

 private:
  std::string Config(int i) const {
    return i < 0 ? dir_ + "/bridge.yaml" : absl::StrCat(dir_, "/dispatcher", i, ".yaml");
  }
  std::string Common() const {
    // No push memory: every notification here is a new push anyway.
    return absl::StrCat("dispatcher:\n  target: ", target_, "\n  dedup_max_entries: 0\n");
  }
  static std::string Apps() {
    return "apps:\n  org.unifiedpush.a: {type: unifiedpush, allow_private_addresses: true}\n";
  }

  std::string dir_, target_;
  std::array<int, kDispatchers> grpc_{}, metrics_{};
  std::array<Process, kDispatchers> dispatchers_;
  Process bridge_;
  int port_ = 0;
  int starts_ = 0;
};

// Clients sending notifications back to back until stopped, counting the
// answers by status.
class Load {
 public:
  Load(const std::string& url, const std::string& endpoint, int clients) {
    for (int c = 0; c < clients; ++c) {
      threads_.emplace_back([this, url, endpoint, c] {
        for (int n = 0; !stop_.load(); ++n) {
          std::string body =
              absl::StrCat(R"({"notification":{"event_id":"$e)", c, "-", n,
                           R"(","devices":[{"app_id":"org.unifiedpush.a","pushkey":)",
                           JsonString(endpoint), "}]}}");
          HttpResult r =
              HttpCall("POST", url, body, {"Content-Type: application/json"}, absl::Seconds(15));
          absl::MutexLock lock(&mu_);
          ++by_status_[r.status];
          if (r.status != 200 && first_errors_.size() < 5) {
            first_errors_.push_back(absl::StrCat(r.status, " ", r.body, r.error));
          }
        }
      });
    }
  }
  ~Load() { Stop(); }
  void Stop() {
    stop_ = true;
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  std::map<long, int> Take() {
    absl::MutexLock lock(&mu_);
    std::map<long, int> out;
    out.swap(by_status_);
    return out;
  }
  std::string Errors() {
    absl::MutexLock lock(&mu_);
    return absl::StrJoin(first_errors_, "; ");
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  absl::Mutex mu_;
  std::map<long, int> by_status_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> first_errors_ ABSL_GUARDED_BY(mu_);
};

std::string Describe(const std::map<long, int>& by_status) {
  std::vector<std::string> out;
  for (const auto& [status, n] : by_status) out.push_back(absl::StrCat(n, " x ", status));
  return absl::StrJoin(out, ", ");
}

int Total(const std::map<long, int>& by_status) {
  int n = 0;
  for (const auto& [status, count] : by_status) n += count;
  return n;
}

TEST(BalanceTest, ThreeDispatchersShareTheLoadAndOneAddedOrRestartedTakesItsShare) {
  FakeProvider fake;
  const std::string endpoint = fake.base_url() + "/up/ok";
  Fleet fleet;
  fleet.StartDispatcher(0);
  fleet.StartDispatcher(1);
  fleet.StartBridge();
  ASSERT_TRUE(Eventually([&] {
    return HttpCall("GET", absl::StrReplaceAll(fleet.notify_url(),
                                               {{"/_matrix/push/v1/notify", "/ready"}}))
               .status == 200;
  }));

  // Two of the three up: once both are connected, both take about half.
  Load load(fleet.notify_url(), endpoint, 4);
  ASSERT_TRUE(Eventually([&] { return fleet.Taken(0) > 0 && fleet.Taken(1) > 0; }))
      << fleet.Counts();
  std::cerr << "two dispatchers, first notifications taken: " << fleet.Counts() << "\n";
  const int a0 = fleet.Taken(0), b0 = fleet.Taken(1);
  ASSERT_TRUE(Eventually([&] { return fleet.Taken(0) - a0 + fleet.Taken(1) - b0 >= 400; },
                         absl::Seconds(30)))
      << fleet.Counts();
  const int a = fleet.Taken(0) - a0, b = fleet.Taken(1) - b0;
  std::cerr << "two dispatchers, notifications taken since: " << a << " / " << b << "\n";
  EXPECT_GT(std::min(a, b) * 3, std::max(a, b) * 2) << a << " / " << b;  // within 2:3

  // The third starts behind the running bridge: it takes traffic within
  // 30 s, and then its share.
  fleet.StartDispatcher(2);
  const absl::Time started = absl::Now();
  ASSERT_TRUE(Eventually([&] { return fleet.Taken(2) > 0; }, absl::Seconds(30)))
      << fleet.bridge().Log();
  std::cerr << "the added dispatcher took its first notification "
            << absl::FormatDuration(absl::Now() - started) << " after it listened\n";
  const int a1 = fleet.Taken(0), b1 = fleet.Taken(1), c1 = fleet.Taken(2);
  ASSERT_TRUE(Eventually([&] { return fleet.Taken(2) - c1 >= 300; }, absl::Seconds(30)));
  const int da = fleet.Taken(0) - a1, db = fleet.Taken(1) - b1, dc = fleet.Taken(2) - c1;
  std::cerr << "three dispatchers, notifications taken since: " << da << " / " << db << " / " << dc
            << "\n";
  // Each within 2:3 of the others.
  for (int d : {da, db}) EXPECT_GT(d * 3, dc * 2) << da << " / " << db << " / " << dc;
  EXPECT_GT(dc * 3, std::max(da, db) * 2) << da << " / " << db << " / " << dc;
  std::map<long, int> so_far = load.Take();
  EXPECT_EQ(so_far[200], Total(so_far)) << Describe(so_far) << ": " << load.Errors();

  // SIGKILL one under load: what it held may fail (at most one request per
  // client in flight), nothing after.
  kill(fleet.dispatcher(0).pid(), SIGKILL);
  fleet.dispatcher(0).Wait(absl::Seconds(5));
  const int b2 = fleet.Taken(1), c2 = fleet.Taken(2);
  ASSERT_TRUE(Eventually([&] { return fleet.Taken(1) - b2 >= 200 && fleet.Taken(2) - c2 >= 200; },
                         absl::Seconds(30)));
  std::map<long, int> around_kill = load.Take();
  std::cerr << "answers around the SIGKILL: " << Describe(around_kill) << "\n";
  EXPECT_LE(Total(around_kill) - around_kill[200], 4) << load.Errors();
  std::map<long, int> after_kill;
  ASSERT_TRUE(Eventually([&] {
    for (const auto& [status, n] : load.Take()) after_kill[status] += n;
    return Total(after_kill) >= 300;
  }));
  std::cerr << "answers after it: " << Describe(after_kill) << "\n";
  EXPECT_EQ(after_kill[200], Total(after_kill)) << Describe(after_kill) << ": " << load.Errors();

  // It restarts on its port: it takes traffic again within 30 s.
  fleet.StartDispatcher(0);
  const absl::Time restarted = absl::Now();
  ASSERT_TRUE(Eventually([&] { return fleet.Taken(0) > 0; }, absl::Seconds(30)))
      << fleet.bridge().Log();
  std::cerr << "the restarted dispatcher took its first notification "
            << absl::FormatDuration(absl::Now() - restarted) << " after it listened\n";
  load.Stop();
  std::map<long, int> rest = load.Take();
  std::cerr << "answers since: " << Describe(rest) << "\n";
  EXPECT_EQ(rest[200], Total(rest)) << Describe(rest) << ": " << load.Errors();
  std::cerr << "final counts since each started: " << fleet.Counts() << "\n";
  EXPECT_EQ(fleet.bridge().Stop(), 0);
  for (int i = 0; i < kDispatchers; ++i) EXPECT_EQ(fleet.dispatcher(i).Stop(), 0);
}

}  // namespace
}  // namespace herald::testing
