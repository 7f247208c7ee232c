// The push memory shared through Redis (dispatcher.dedup.backend: redis),
// against a real redis-server on loopback: the memory on its own, then two
// dispatchers (each behind a bridge of its own) sharing it, so that a
// homeserver's retry that lands on the other one pushes nothing twice.
#include <hiredis/hiredis.h>

#include <regex>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/metrics.h"
#include "dispatcher/redis_push_memory.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace herald::testing {
namespace {

using dispatcher::PushMemory;
using dispatcher::RecentPushes;
using dispatcher::RedisPushMemory;
using State = PushMemory::State;

std::vector<std::optional<State>> ClaimNow(PushMemory* memory, std::vector<PushMemory::Key> keys) {
  absl::Notification done;
  std::vector<std::optional<State>> out;
  memory->Claim(std::move(keys), Clock::Real().Monotonic() + absl::Seconds(10),
                [&](std::vector<std::optional<State>> known) {
                  out = std::move(known);
                  done.Notify();
                });
  done.WaitForNotification();
  return out;
}

// The memory's End() is sent with the next round trip: a claim after it
// sees it.
void EndNow(PushMemory* memory, const PushMemory::Key& key, std::optional<State> state) {
  memory->End(key, state);
}

std::vector<std::string> RedisKeys(int port) {
  redisContext* c = redisConnect("127.0.0.1", port);
  std::vector<std::string> out;
  auto* r = static_cast<redisReply*>(redisCommand(c, "KEYS *"));
  for (size_t i = 0; r != nullptr && i < r->elements; ++i) out.push_back(r->element[i]->str);
  freeReplyObject(r);
  redisFree(c);
  return out;
}

void RedisCommand(int port, const char* command) {
  redisContext* c = redisConnect("127.0.0.1", port);
  freeReplyObject(redisCommand(c, command));
  redisFree(c);
}

long long Pttl(int port, const std::string& key) {
  redisContext* c = redisConnect("127.0.0.1", port);
  auto* r = static_cast<redisReply*>(redisCommand(c, "PTTL %s", key.c_str()));
  long long ms = r != nullptr ? r->integer : -3;
  freeReplyObject(r);
  redisFree(c);
  return ms;
}

// Whether some herald:push: key holds `value`.
bool RedisHolds(int port, const std::string& value) {
  redisContext* c = redisConnect("127.0.0.1", port);
  bool found = false;
  for (const std::string& key : RedisKeys(port)) {
    auto* r = static_cast<redisReply*>(redisCommand(c, "GET %s", key.c_str()));
    found = found || (r != nullptr && r->type == REDIS_REPLY_STRING && value == r->str);
    freeReplyObject(r);
  }
  redisFree(c);
  return found;
}

TEST(RedisMemoryTest, ClaimsOutcomesAndFailingOpenWhileRedisIsDown) {
  RedisServer redis;
  RedisPushMemory::Options options;
  options.address = *dispatcher::ParseRedisUrl(redis.url());
  options.timeout = absl::Milliseconds(50);
  options.ttl = absl::Minutes(10);
  RedisPushMemory memory(options, /*executor=*/nullptr);
  const PushMemory::Key a = RecentPushes::MakeKey("$e", "app", "pushkey-a-secret");
  const PushMemory::Key b = RecentPushes::MakeKey("$e", "app", "pushkey-b-secret");

  // New: both claimed; claimed: in flight, for anyone asking.
  EXPECT_EQ(ClaimNow(&memory, {a, b}),
            (std::vector<std::optional<State>>{std::nullopt, std::nullopt}));
  EXPECT_EQ(ClaimNow(&memory, {a}), (std::vector<std::optional<State>>{State::kInFlight}));
  // Keys are hashes, never the pushkey; an in-flight claim lapses soon
  // after the request's deadline (10 s + 5 s).
  std::vector<std::string> keys = RedisKeys(redis.port());
  ASSERT_EQ(keys.size(), 2u);
  for (const std::string& k : keys) {
    EXPECT_TRUE(std::regex_match(k, std::regex("herald:push:[0-9a-f]{32}"))) << k;
    EXPECT_FALSE(absl::StrContains(k, "secret")) << k;
    EXPECT_GT(Pttl(redis.port(), k), 10000);
    EXPECT_LE(Pttl(redis.port(), k), 15000);
  }
  // Outcomes: delivered and rejected remembered for the TTL; a failure
  // forgotten, so the retry pushes.
  EndNow(&memory, a, State::kDelivered);
  EndNow(&memory, b, std::nullopt);
  EXPECT_EQ(ClaimNow(&memory, {a, b}),
            (std::vector<std::optional<State>>{State::kDelivered, std::nullopt}));
  EndNow(&memory, b, State::kRejected);
  EXPECT_EQ(ClaimNow(&memory, {b}), (std::vector<std::optional<State>>{State::kRejected}));
  for (const std::string& k : RedisKeys(redis.port())) {
    EXPECT_GT(Pttl(redis.port(), k), 590000) << k;
  }

  // A value Herald never writes, without expiry (another program's): not
  // trusted as "in flight" (every retry would get 5xx while it stays); the
  // device is pushed and the key becomes this claim, with its expiry.
  const PushMemory::Key f = RecentPushes::MakeKey("$e", "app", "pushkey-f");
  const std::string f_name = absl::StrFormat("herald:push:%016x%016x", f[0], f[1]);
  RedisCommand(redis.port(), absl::StrCat("SET ", f_name, " junk").c_str());
  EXPECT_EQ(Pttl(redis.port(), f_name), -1);
  EXPECT_EQ(ClaimNow(&memory, {f}), (std::vector<std::optional<State>>{std::nullopt}));
  EXPECT_TRUE(Eventually([&] { return Pttl(redis.port(), f_name) > 0; }, absl::Seconds(5)));
  EXPECT_EQ(ClaimNow(&memory, {f}), (std::vector<std::optional<State>>{State::kInFlight}));

  // Redis refuses writes (out of memory): the claims are pushed without
  // it, and counted; once it takes writes again, so does the memory.
  const double refused_before =
      std::max(0.0, MetricValue(Metrics::Global().Render(), "herald_dedup_errors_total"));
  RedisCommand(redis.port(), "CONFIG SET maxmemory-policy noeviction");
  RedisCommand(redis.port(), "CONFIG SET maxmemory 1");
  const PushMemory::Key c = RecentPushes::MakeKey("$e", "app", "pushkey-c");
  EXPECT_TRUE(ClaimNow(&memory, {c}).empty());
  EXPECT_EQ(MetricValue(Metrics::Global().Render(), "herald_dedup_errors_total"),
            refused_before + 1);
  RedisCommand(redis.port(), "CONFIG SET maxmemory 0");
  ASSERT_TRUE(Eventually([&] { return !ClaimNow(&memory, {c}).empty(); }, absl::Seconds(5)));

  // Redis goes away: claims are answered at once with nothing known (the
  // fan-out pushes), and counted.
  const std::string before = Metrics::Global().Render();
  redis.Stop();
  const absl::Time asked = absl::Now();
  EXPECT_TRUE(ClaimNow(&memory, {a}).empty());
  EXPECT_LT(absl::Now() - asked, absl::Milliseconds(500));
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(ClaimNow(&memory, {b}).empty());
  const std::string after = Metrics::Global().Render();
  EXPECT_EQ(MetricValue(after, "herald_dedup_errors_total"),
            std::max(0.0, MetricValue(before, "herald_dedup_errors_total")) + 21)
      << MetricValue(before, "herald_dedup_errors_total");

  // It comes back (empty: it saved nothing): dedup resumes by itself.
  redis.Start();
  ASSERT_TRUE(Eventually([&] { return !ClaimNow(&memory, {a}).empty(); }, absl::Seconds(5)));
  EXPECT_EQ(ClaimNow(&memory, {a}), (std::vector<std::optional<State>>{State::kInFlight}));
}

class SharedMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestDir("shared");
    for (int i = 0; i < 2; ++i) {
      const int grpc_port = FreePort();
      metrics_[i] = FreePort();
      const std::string config = absl::StrCat(dir_, "/herald", i, ".yaml");
      WriteFile(config, absl::StrCat(
                            "http:\n  bind_addresses: ['127.0.0.1']\n  port: 0\n",
                            "dispatcher:\n  listen: 127.0.0.1:", grpc_port,
                            "\n  target: ipv4:127.0.0.1:", grpc_port,
                            "\n  metrics_listen: 127.0.0.1:", metrics_[i],
                            "\n  max_attempts: 1\n  dedup:\n    backend: redis\n    redis: {url: '",
                            redis_.url(), "', timeout_ms: 50}\n",
                            "apps:\n  org.unifiedpush.a: {type: unifiedpush, "
                            "allow_private_addresses: true}\n"));
      StartService(&dispatchers_[i], "dispatcher", config, dir_, absl::StrCat("dispatcher", i));
      ports_[i] = StartService(&bridges_[i], "bridge", config, dir_, absl::StrCat("bridge", i));
    }
  }

  // Notify through bridge `i` (each bridge has its own dispatcher).
  HttpResult Notify(int i, const std::string& event_id, const std::vector<std::string>& paths) {
    std::string devices;
    for (const std::string& p : paths) {
      if (!devices.empty()) devices += ",";
      devices += DeviceJson("org.unifiedpush.a", fake_.base_url() + p);
    }
    return HttpCall("POST", absl::StrCat("http://127.0.0.1:", ports_[i], "/_matrix/push/v1/notify"),
                    absl::StrCat(R"({"notification":{"event_id":")", event_id, R"(","devices":[)",
                                 devices, "]}}"),
                    {"Content-Type: application/json"});
  }

  // How many pushes of `event_id` the fake received at `path`.
  int Pushes(const std::string& path, const std::string& event_id) {
    int n = 0;
    rapidjson::Document all = fake_.Requests();
    for (const auto& r : all.GetArray()) {
      if (std::string(r["path"].GetString()) == path &&
          absl::StrContains(r["body"].GetString(), event_id)) {
        ++n;
      }
    }
    return n;
  }

  double DedupErrors(int i) {
    return MetricValue(
        HttpCall("GET", absl::StrCat("http://127.0.0.1:", metrics_[i], "/metrics")).body,
        "herald_dedup_errors_total");
  }

  RedisServer redis_;
  FakeProvider fake_;
  std::string dir_;
  Process dispatchers_[2], bridges_[2];
  int ports_[2] = {0, 0};
  int metrics_[2] = {0, 0};
};

TEST_F(SharedMemoryTest, ARetryOnTheOtherDispatcherPushesEachDeviceOnce) {
  fake_.SetRules(
      R"([{"path":"/up/flaky","status":503,"times":1},{"path":"/up/gone","status":410}])");
  // Through dispatcher 0: ok delivered, flaky fails (502), gone rejected.
  HttpResult first = Notify(0, "$retry", {"/up/ok", "/up/flaky", "/up/gone"});
  EXPECT_EQ(first.status, 502) << first.body;
  // (Its outcomes reach Redis just after its answer: wait for them, as a
  // homeserver's retry a second later would.)
  ASSERT_TRUE(Eventually([&] { return !RedisHolds(redis_.port(), "i"); }));
  // The homeserver's retry lands on dispatcher 1: only flaky is pushed
  // again; gone is answered rejected without a call.
  HttpResult retry = Notify(1, "$retry", {"/up/ok", "/up/flaky", "/up/gone"});
  EXPECT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(RejectedPushkeys(retry), std::vector<std::string>{fake_.base_url() + "/up/gone"});
  fake_.Requests(4);  // all four pushes recorded
  EXPECT_EQ(Pushes("/up/ok", "$retry"), 1) << dispatchers_[0].Log() << dispatchers_[1].Log();
  EXPECT_EQ(Pushes("/up/flaky", "$retry"), 2);  // the failure, then the retry
  EXPECT_EQ(Pushes("/up/gone", "$retry"), 1);
  // And a third time, anywhere: nothing pushed at all.
  EXPECT_EQ(Notify(0, "$retry", {"/up/ok", "/up/flaky", "/up/gone"}).status, 200);
  EXPECT_EQ(fake_.Requests().Size(), 4u);
}

TEST_F(SharedMemoryTest, WithRedisDownPushesGoOutAndDedupResumesWhenItIsBack) {
  redis_.Stop();
  // Pushed anyway (a duplicate is better than a lost push), and counted.
  EXPECT_EQ(Notify(0, "$down", {"/up/ok"}).status, 200);
  EXPECT_EQ(Notify(1, "$down", {"/up/ok"}).status, 200);
  fake_.Requests(2);
  EXPECT_EQ(Pushes("/up/ok", "$down"), 2);
  EXPECT_GE(DedupErrors(0), 1);
  EXPECT_GE(DedupErrors(1), 1);
  EXPECT_TRUE(absl::StrContains(dispatchers_[0].Log(), "pushing without it"))
      << dispatchers_[0].Log();

  // Back: a notification and its retry on the other dispatcher push once.
  redis_.Start();
  int n = 0;
  ASSERT_TRUE(Eventually(
      [&] {
        const std::string event = absl::StrCat("$back", ++n);
        if (Notify(0, event, {"/up/ok"}).status != 200) return false;
        if (Notify(1, event, {"/up/ok"}).status != 200) return false;
        return Pushes("/up/ok", event) == 1;
      },
      absl::Seconds(10)));
  EXPECT_EQ(Notify(1, "$after", {"/up/ok"}).status, 200);
  EXPECT_EQ(Notify(0, "$after", {"/up/ok"}).status, 200);
  fake_.Requests(1);
  EXPECT_EQ(Pushes("/up/ok", "$after"), 1);
}

}  // namespace
}  // namespace herald::testing
