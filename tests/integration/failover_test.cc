// Failover under steady load: two dispatchers sharing the push memory in
// Redis behind one bridge, one of them SIGKILLed (or SIGTERMed) mid-run. No
// notification is answered 200 unless its push reached the provider; with
// SIGTERM nothing fails at all.
#include <signal.h>

#include <atomic>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace herald::testing {
namespace {

class FailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestDir("failover");
    int grpc[2] = {FreePort(), FreePort()};
    const std::string target = absl::StrCat("ipv4:127.0.0.1:", grpc[0], ",127.0.0.1:", grpc[1]);
    for (int i = 0; i < 3; ++i) {  // two dispatchers, then the bridge
      const std::string listen = i < 2 ? absl::StrCat("127.0.0.1:", grpc[i]) : "127.0.0.1:0";
      WriteFile(Config(i), absl::StrCat("http:\n  bind_addresses: ['127.0.0.1']\n  port: 0\n",
                                        "dispatcher:\n  listen: ", listen, "\n  target: ", target,
                                        "\n  dedup:\n    backend: redis\n    redis: {url: '",
                                        redis_.url(), "'}\n",
                                        "apps:\n  org.unifiedpush.a: {type: unifiedpush, "
                                        "allow_private_addresses: true}\n"));
    }
    for (int i = 0; i < 2; ++i) {
      StartService(&dispatchers_[i], "dispatcher", Config(i), dir_, absl::StrCat("dispatcher", i));
    }
    port_ = StartService(&bridge_, "bridge", Config(2), dir_);
    ASSERT_TRUE(Eventually([&] {
      return HttpCall("GET", absl::StrCat("http://127.0.0.1:", port_, "/ready")).status == 200;
    }));
  }

  std::string Config(int i) const { return absl::StrCat(dir_, "/herald", i, ".yaml"); }

  // Four clients send notifications (each its own event id) for `run`;
  // `signal` goes to dispatcher 0 after `after`. Returns the answers by
  // status and checks every 200 against what the provider received.
  std::map<long, int> RunWith(int signal, absl::Duration after, absl::Duration run) {
    std::atomic<bool> stop{false};
    absl::Mutex mu;
    std::map<long, int> by_status;
    std::vector<std::string> delivered;  // event ids answered 200
    const absl::Time settled = absl::Now() + after + absl::Seconds(1);
    int late_failures = 0;  // not 200, for requests sent a second after the signal
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c) {
      clients.emplace_back([&, c] {
        for (int n = 0; !stop.load(); ++n) {
          const std::string event = absl::StrCat("$f", c, "-", n);
          const absl::Time sent = absl::Now();
          HttpResult r = HttpCall(
              "POST", absl::StrCat("http://127.0.0.1:", port_, "/_matrix/push/v1/notify"),
              absl::StrCat(R"({"notification":{"event_id":")", event, R"(","devices":[)",
                           DeviceJson("org.unifiedpush.a", fake_.base_url() + "/up/ok"), "]}}"),
              {"Content-Type: application/json"}, absl::Seconds(15));
          absl::MutexLock lock(&mu);
          ++by_status[r.status];
          if (r.status == 200) delivered.push_back(event);
          if (r.status != 200 && sent > settled) ++late_failures;
        }
      });
    }
    absl::SleepFor(after);
    kill(dispatchers_[0].pid(), signal);
    absl::SleepFor(run - after);
    stop = true;
    for (std::thread& t : clients) t.join();

    std::set<std::string> pushed;
    rapidjson::Document all = fake_.Requests();
    for (const auto& r : all.GetArray()) {
      rapidjson::Document body;
      body.Parse(r["body"].GetString());
      if (body.IsObject() && body.HasMember("notification") &&
          body["notification"].HasMember("event_id")) {
        pushed.insert(body["notification"]["event_id"].GetString());
      }
    }
    int unpushed = 0;
    for (const std::string& e : delivered) unpushed += pushed.count(e) == 0 ? 1 : 0;
    EXPECT_EQ(unpushed, 0) << "answered 200 but never pushed";
    EXPECT_EQ(late_failures, 0) << "failures a second after the signal";
    std::cerr << "signal " << signal << ": " << delivered.size() << " answered 200 (all pushed), "
              << pushed.size() << " events pushed;";
    for (const auto& [status, n] : by_status) std::cerr << " " << n << " x " << status;
    std::cerr << "\n";
    return by_status;
  }

  RedisServer redis_;
  FakeProvider fake_;
  std::string dir_;
  Process dispatchers_[2], bridge_;
  int port_ = 0;
};

TEST_F(FailoverTest, ASigkilledDispatcherCostsOnlyWhatItHeldAndNo200IsUnpushed) {
  std::map<long, int> by_status = RunWith(SIGKILL, absl::Seconds(3), absl::Seconds(10));
  int total = 0;
  for (const auto& [status, n] : by_status) total += n;
  EXPECT_GT(by_status[200], total * 9 / 10);
  // Every request got an answer, and the failures are 5xx the homeserver
  // retries (what the dead one held).
  for (const auto& [status, n] : by_status) {
    EXPECT_TRUE(status == 200 || status == 502 || status == 503) << n << " x " << status;
  }
  EXPECT_LE(total - by_status[200], 8) << "at most what the dead one held (4 clients)";
  dispatchers_[0].Wait(absl::Seconds(5));
}

TEST_F(FailoverTest, ASigtermedDispatcherCostsNothing) {
  std::map<long, int> by_status = RunWith(SIGTERM, absl::Seconds(3), absl::Seconds(10));
  int total = 0;
  for (const auto& [status, n] : by_status) total += n;
  std::string why;
  const std::string log = bridge_.Log();
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StrContains(line, "WARN") || absl::StrContains(line, " 50")) {
      absl::StrAppend(&why, line, "\n");
    }
  }
  EXPECT_EQ(by_status[200], total) << "every notification answered 200; the bridge said:\n" << why;
  EXPECT_EQ(dispatchers_[0].Wait(absl::Seconds(20)), 0);
}

}  // namespace
}  // namespace herald::testing
