// End to end: homeserver → bridge → dispatcher → UnifiedPush provider → fake
// distributor, with the real binaries on loopback.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace herald::testing {
namespace {

constexpr char kApps[] =
    "  \"org.unifiedpush.*\":\n"
    "    type: unifiedpush\n"
    "    allow_private_addresses: true\n"
    "    ttl: 600\n"
    "  up.strict:\n"
    "    type: unifiedpush\n"
    "  up.allowlist:\n"
    "    type: unifiedpush\n"
    "    allow_private_addresses: true\n"
    "    allowed_endpoints: ['push.example.org', '*.example.net']\n"
    "  up.hostport:\n"
    "    type: unifiedpush\n"
    "    allow_private_addresses: true\n"
    "    allowed_endpoints: ['127.0.0.1:*']\n"
    "  up.otherport:\n"
    "    type: unifiedpush\n"
    "    allow_private_addresses: true\n"
    "    allowed_endpoints: ['127.0.0.1:1']\n"
    "  \"amb.*\":\n"
    "    type: unifiedpush\n"
    "    allow_private_addresses: true\n"
    "  \"amb.x*\":\n"
    "    type: unifiedpush\n"
    "    allow_private_addresses: true\n";

constexpr char kLimitedApps[] =
    "  up.small:\n"
    "    type: unifiedpush\n"
    "    allow_private_addresses: true\n"
    "    inflight_request_limit: 2\n"
    "  up.other:\n"
    "    type: unifiedpush\n"
    "    allow_private_addresses: true\n";

constexpr char kDispatcher[] =
    "  deadline: 4\n"
    "  retry_initial_backoff: 0.05\n"
    "  max_attempts: 3\n"
    "  metrics_listen: 127.0.0.1:0\n";

std::string Body(const std::vector<std::string>& devices) {
  return SpecNotifyBody(devices, "high", "", /*room_alias=*/true);
}

class UnifiedPushTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fake_ = new FakeProvider();
    herald_ = new Herald(kApps, kDispatcher);
  }
  static void TearDownTestSuite() {
    delete herald_;
    delete fake_;
  }
  void SetUp() override { fake_->Reset(); }
  std::string Endpoint(const std::string& path) { return fake_->base_url() + path; }

  static FakeProvider* fake_;
  static Herald* herald_;
};

FakeProvider* UnifiedPushTest::fake_ = nullptr;
Herald* UnifiedPushTest::herald_ = nullptr;

TEST_F(UnifiedPushTest, DeliversTheNotificationWithoutDevices) {
  HttpResult r =
      herald_->Notify(Body({DeviceJson("org.unifiedpush.app", Endpoint("/up/abc?x=1"))}));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"rejected":[]})");
  rapidjson::Document reqs = fake_->Requests(1);
  ASSERT_EQ(reqs.Size(), 1u);
  const rapidjson::Value& req = reqs[0];
  EXPECT_EQ(std::string(req["method"].GetString()), "POST");
  EXPECT_EQ(std::string(req["path"].GetString()), "/up/abc?x=1");
  EXPECT_EQ(RequestHeader(req, "ttl"), "600");
  EXPECT_EQ(RequestHeader(req, "content-type"), "application/json");
  EXPECT_EQ(std::string(req["body"].GetString()),
            R"({"notification":{"event_id":"$3957tyerfgewrf384",)"
            R"("room_id":"!slw48wfj34rtnrf:example.com","type":"m.room.message",)"
            R"("sender":"@exampleuser:matrix.org","sender_display_name":"Major Tom",)"
            R"("room_name":"Mission Control","room_alias":"#exampleroom:matrix.org",)"
            R"("prio":"high","content":{"msgtype":"m.text",)"
            R"("body":"I'm floating in a most peculiar way."},)"
            R"("counts":{"unread":2,"missed_calls":1}}})");
}

TEST_F(UnifiedPushTest, EventIdOnlyDevicesGetOnlyIds) {
  HttpResult r = herald_->Notify(Body(
      {DeviceJson("org.unifiedpush.app", Endpoint("/up/eio"), R"({"format":"event_id_only"})")}));
  EXPECT_EQ(r.status, 200) << r.body;
  rapidjson::Document reqs = fake_->Requests(1);
  ASSERT_EQ(reqs.Size(), 1u);
  EXPECT_EQ(std::string(reqs[0]["body"].GetString()),
            R"({"notification":{"event_id":"$3957tyerfgewrf384",)"
            R"("room_id":"!slw48wfj34rtnrf:example.com","counts":{"unread":2,"missed_calls":1}}})");
}

TEST_F(UnifiedPushTest, GoneEndpointsAreRejected) {
  fake_->SetRules(R"([{"path":"/up/404","status":404},{"path":"/up/410","status":410}])");
  std::string ok = Endpoint("/up/ok"), e404 = Endpoint("/up/404"), e410 = Endpoint("/up/410");
  HttpResult r = herald_->Notify(
      Body({DeviceJson("org.unifiedpush.a", e404), DeviceJson("org.unifiedpush.a", ok),
            DeviceJson("org.unifiedpush.b", e410)}));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(RejectedPushkeys(r), (std::vector<std::string>{e404, e410}));
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 3);
}

TEST_F(UnifiedPushTest, ServerErrorsAreRetriedThen502) {
  fake_->SetRules(R"([{"path":"/up/broken","status":500}])");
  HttpResult r = herald_->Notify(Body({DeviceJson("org.unifiedpush.a", Endpoint("/up/broken"))}));
  EXPECT_EQ(r.status, 502) << r.body;
  rapidjson::Document doc = r.Json();
  EXPECT_EQ(std::string(doc["errcode"].GetString()), "M_UNKNOWN");
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 3);  // max_attempts
}

TEST_F(UnifiedPushTest, AResetConnectionCountsAsOneAttemptEachTime) {
  // A kept-alive connection first, so that the first attempt reuses it:
  // libcurl used to send again by itself when it died (4 sends for 3).
  ASSERT_EQ(herald_->Notify(Body({DeviceJson("org.unifiedpush.a", Endpoint("/up/warm"))})).status,
            200);
  fake_->Reset();
  fake_->SetRules(R"([{"path":"/up/reset","action":"reset"}])");
  HttpResult r = herald_->Notify(Body({DeviceJson("org.unifiedpush.a", Endpoint("/up/reset"))}));
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 3);  // max_attempts
}

TEST_F(UnifiedPushTest, TransientFailureThenSuccessIs200) {
  fake_->SetRules(R"([{"path":"/up/flaky","status":503,"times":1},
                      {"path":"/up/flaky","status":429,"times":1,"headers":{"Retry-After":"0"}}])");
  HttpResult r = herald_->Notify(Body({DeviceJson("org.unifiedpush.a", Endpoint("/up/flaky"))}));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"rejected":[]})");
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 3);
}

TEST_F(UnifiedPushTest, OtherClientErrorsAre502NotRejected) {
  fake_->SetRules(R"([{"path":"/up/403","status":403}])");
  HttpResult r = herald_->Notify(Body({DeviceJson("org.unifiedpush.a", Endpoint("/up/403"))}));
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 1);  // not retried: permanent
}

TEST_F(UnifiedPushTest, RefusedMessagesAreDroppedNotRetriedNotRejected) {
  const std::string series = R"(herald_pushes_total{app="org.unifiedpush.*",outcome="dropped"})";
  const double before = std::max(0.0, MetricValue(herald_->DispatcherMetrics(), series));
  fake_->SetRules(R"([{"path":"/up/413","status":413},{"path":"/up/400","status":400}])");
  HttpResult r = herald_->Notify(Body({DeviceJson("org.unifiedpush.a", Endpoint("/up/413")),
                                       DeviceJson("org.unifiedpush.a", Endpoint("/up/400"))}));
  // 200: a 502 would hold every later push to these devices for a day.
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"rejected":[]})");
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 2);  // not retried
  EXPECT_EQ(MetricValue(herald_->DispatcherMetrics(), series), before + 2);
  const std::string log = herald_->dispatcher().Log();
  EXPECT_NE(log.find("notification dropped, the pushkey is kept: distributor answered 413"),
            std::string::npos);
  EXPECT_NE(log.find("notification dropped, the pushkey is kept: distributor answered 400"),
            std::string::npos);
  EXPECT_EQ(log.find("/up/413"), std::string::npos);  // the origin only, hashed
}

TEST_F(UnifiedPushTest, OversizeNotificationsAreCutTo4096Bytes) {
  // A 20 KB message (Synapse sends what the user typed): cut to what every
  // distributor takes, not refused with 413 for ever.
  const std::string text(20000, 'x');
  HttpResult r = herald_->Notify(absl::StrCat(
      R"({"notification":{"event_id":"$big","room_id":"!r:x","type":"m.room.message",)",
      R"("sender":"@a:x","sender_display_name":"Major Tom","room_name":"Mission Control",)",
      R"("content":{"msgtype":"m.text","body":")", text, R"("},"devices":[)",
      DeviceJson("org.unifiedpush.a", Endpoint("/up/big")), "]}}"));
  EXPECT_EQ(r.status, 200) << r.body;
  rapidjson::Document reqs = fake_->Requests(1);
  ASSERT_EQ(reqs.Size(), 1u);
  const std::string body = reqs[0]["body"].GetString();
  EXPECT_LE(body.size(), 4096u);
  EXPECT_GE(body.size(), 4090u);  // only as much as needed
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  ASSERT_FALSE(doc.HasParseError()) << body;
  const std::string cut = doc["notification"]["content"]["body"].GetString();
  EXPECT_EQ(cut.substr(cut.size() - 3), "\xE2\x80\xA6");
  EXPECT_EQ(cut.substr(0, 100), text.substr(0, 100));
  EXPECT_EQ(std::string(doc["notification"]["sender_display_name"].GetString()), "Major Tom");
  EXPECT_EQ(std::string(doc["notification"]["event_id"].GetString()), "$big");
}

TEST_F(UnifiedPushTest, AProvidersLongRetryAfterIsPassedOn) {
  fake_->SetRules(R"([{"path":"/up/later","status":503,"headers":{"Retry-After":"3600"}}])");
  HttpResult r = herald_->Notify(Body({DeviceJson("org.unifiedpush.a", Endpoint("/up/later"))}));
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_EQ(r.headers["retry-after"], "3600");
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 1);  // an hour does not fit the deadline
}

TEST_F(UnifiedPushTest, ANulInThePushkeyIsNoUrl) {
  // libcurl would cut the URL at the NUL and push to what is left.
  const std::string key = Endpoint("/up/x") + std::string("\0evil", 5);
  HttpResult r = herald_->Notify(absl::StrCat(
      R"({"notification":{"devices":[{"app_id":"org.unifiedpush.a","pushkey":)",
      JsonString(Endpoint("/up/x")).substr(0, JsonString(Endpoint("/up/x")).size() - 1),
      R"(\u0000evil"}]}})"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(RejectedPushkeys(r), std::vector<std::string>{key});  // NUL and all
  EXPECT_NE(r.body.find(R"(/up/x\u0000evil")"), std::string::npos) << r.body;
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 0);
}

TEST_F(UnifiedPushTest, AllowListGlobsMatchHostAndPort) {
  HttpResult r = herald_->Notify(Body({DeviceJson("up.hostport", Endpoint("/up/hp")),
                                       DeviceJson("up.otherport", Endpoint("/up/op"))}));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"rejected":[]})");  // the other port: not sent, not rejected
  rapidjson::Document reqs = fake_->Requests(1);
  ASSERT_EQ(reqs.Size(), 1u);
  EXPECT_EQ(std::string(reqs[0]["path"].GetString()), "/up/hp");
}

TEST_F(UnifiedPushTest, UnknownAndAmbiguousAppIdsAreRejectedWithoutUpstreamCalls) {
  std::string k1 = Endpoint("/up/unknown"), k2 = Endpoint("/up/ambiguous");
  HttpResult r =
      herald_->Notify(Body({DeviceJson("com.example.unknown", k1), DeviceJson("amb.xy", k2)}));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(RejectedPushkeys(r), (std::vector<std::string>{k1, k2}));
  // The answer comes once every device has its outcome: a call made would
  // have reached the fake before it.
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 0);
  // One glob alone still routes.
  HttpResult ok = herald_->Notify(Body({DeviceJson("amb.only", Endpoint("/up/amb"))}));
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.body, R"({"rejected":[]})");
}

TEST_F(UnifiedPushTest, PrivateEndpointsAreRefusedUnlessAllowed) {
  std::string k = Endpoint("/up/private");
  HttpResult r = herald_->Notify(Body({DeviceJson("up.strict", k)}));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(RejectedPushkeys(r), std::vector<std::string>{k});
  // The answer comes once every device has its outcome: a call made would
  // have reached the fake before it.
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 0);
  std::string log = herald_->dispatcher().Log();
  EXPECT_NE(log.find("resolves to a private address"), std::string::npos) << log;
  // The log names the endpoint's origin only, never the full pushkey.
  EXPECT_EQ(log.find("/up/private"), std::string::npos) << log;
}

TEST_F(UnifiedPushTest, EndpointsOutsideTheAllowListAreNotSentNorRejected) {
  // The allow-list is the operator's choice, not the pushkey's fault: the
  // pusher is kept. A pushkey that is no URL at all is dead.
  std::string k = Endpoint("/up/not-listed");
  HttpResult r = herald_->Notify(
      Body({DeviceJson("up.allowlist", k), DeviceJson("up.allowlist", "not a url")}));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(RejectedPushkeys(r), (std::vector<std::string>{"not a url"}));
  // The answer comes once every device has its outcome: a call made would
  // have reached the fake before it.
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 0);
  EXPECT_NE(herald_->dispatcher().Log().find("not in allowed_endpoints"), std::string::npos);
}

TEST_F(UnifiedPushTest, DevicesGoOutInParallel) {
  fake_->SetRules(R"([{"path_prefix":"/up/slow","delay_ms":300}])");
  std::vector<std::string> devices;
  devices.reserve(10);
  for (int i = 0; i < 10; ++i) {
    devices.push_back(DeviceJson("org.unifiedpush.a", Endpoint(absl::StrCat("/up/slow/", i))));
  }
  HttpResult r = herald_->Notify(Body(devices));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"rejected":[]})");
  rapidjson::Document stats = fake_->Stats();
  EXPECT_EQ(stats["total"].GetInt(), 10);
  EXPECT_EQ(stats["max_in_flight"].GetInt(), 10) << herald_->dispatcher().Log();
}

TEST_F(UnifiedPushTest, DuplicatePushkeysAreListedOnce) {
  fake_->SetRules(R"([{"path":"/up/gone","status":410}])");
  std::string k = Endpoint("/up/gone");
  HttpResult r = herald_->Notify(
      Body({DeviceJson("org.unifiedpush.a", k), DeviceJson("org.unifiedpush.b", k)}));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(RejectedPushkeys(r), std::vector<std::string>{k});
}

TEST(UnifiedPushUpstreamTest, SlowUpstreamBecomes502BeforeTheDeadline) {
  FakeProvider fake;
  Herald herald(kApps, "  deadline: 1\n  retry_initial_backoff: 0.05\n");
  fake.SetRules(R"([{"path":"/up/hang","action":"hang"}])");
  absl::Time start = absl::Now();
  HttpResult r =
      herald.Notify(Body({DeviceJson("org.unifiedpush.a", fake.base_url() + "/up/hang")}));
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST(UnifiedPushUpstreamTest, StuckDispatcherIs504) {
  FakeProvider fake;
  Herald herald(kApps, "  deadline: 1\n");
  // Warm the connection, then freeze the dispatcher so it never answers.
  ASSERT_EQ(
      herald.Notify(Body({DeviceJson("org.unifiedpush.a", fake.base_url() + "/up/1")})).status,
      200);
  kill(herald.dispatcher().pid(), SIGSTOP);
  HttpResult r = herald.Notify(Body({DeviceJson("org.unifiedpush.a", fake.base_url() + "/up/2")}));
  kill(herald.dispatcher().pid(), SIGCONT);
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_EQ(std::string(r.Json()["errcode"].GetString()), "M_UNKNOWN");
}

TEST(UnifiedPushUpstreamTest, SigtermDrainsInFlightNotificationsThenStops) {
  FakeProvider fake;
  Herald herald(kApps, "  deadline: 8\n");
  fake.SetRules(R"([{"path":"/up/slow","delay_ms":800}])");
  HttpResult in_flight;
  std::thread client([&] {
    in_flight =
        herald.Notify(Body({DeviceJson("org.unifiedpush.a", fake.base_url() + "/up/slow")}));
  });
  ASSERT_EQ(fake.Requests(1).Size(), 1u);  // the push is at the provider
  absl::Time start = absl::Now();
  kill(herald.dispatcher().pid(), SIGTERM);
  int status = herald.dispatcher().Wait(absl::Seconds(6));
  absl::Duration took = absl::Now() - start;
  client.join();
  EXPECT_EQ(in_flight.status, 200) << in_flight.body;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  // It waited for the notification it had taken, not for the whole deadline.
  EXPECT_LT(took, absl::Seconds(3));
  HttpResult after =
      herald.Notify(Body({DeviceJson("org.unifiedpush.a", fake.base_url() + "/up/x")}));
  EXPECT_EQ(after.status, 503) << after.body;
}

TEST(UnifiedPushUpstreamTest, FullInflightLimitShedsLoadWith429) {
  FakeProvider fake;
  Herald herald(kLimitedApps, kDispatcher);
  fake.SetRules(R"([{"path_prefix":"/up/","delay_ms":500}])");
  std::vector<std::string> devices;
  devices.reserve(4);
  for (int i = 0; i < 4; ++i) {
    devices.push_back(DeviceJson("up.small", fake.base_url() + absl::StrCat("/up/small", i)));
  }
  devices.push_back(DeviceJson("up.other", fake.base_url() + "/up/other"));
  HttpResult r = herald.Notify(Body(devices));
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(r.headers["retry-after"], "2");
  rapidjson::Document doc = r.Json();
  EXPECT_EQ(std::string(doc["errcode"].GetString()), "M_LIMIT_EXCEEDED");
  EXPECT_EQ(doc["retry_after_ms"].GetInt(), 2000);
  // Two of the small app's pushes went out, the rest waited for nothing;
  // the other app was not held back.
  rapidjson::Document reqs = fake.Requests(3);
  EXPECT_EQ(reqs.Size(), 3u);
  int other = 0;
  for (const auto& req : reqs.GetArray())
    other += std::string(req["path"].GetString()) == "/up/other";
  EXPECT_EQ(other, 1);
  // With room again, the same notification goes through.
  fake.Reset();
  HttpResult again = herald.Notify(Body({devices[0], devices[1], devices[4]}));
  EXPECT_EQ(again.status, 200) << again.body;
}

TEST(DedupTest, AHomeserverRetryDoesNotPushTwice) {
  FakeProvider fake;
  Herald herald(kApps,
                "  retry_initial_backoff: 0.05\n  max_attempts: 2\n  dedup_max_entries: 1000\n");
  fake.SetRules(R"([{"path":"/up/gone","status":410},
                    {"path":"/up/flaky","status":503,"times":2},
                    {"path":"/up/slow","delay_ms":800}])");
  auto requests_to = [&](const std::string& path) {
    int n = 0;
    rapidjson::Document reqs = fake.Requests();  // must outlive the loop
    for (const auto& r : reqs.GetArray()) n += path == r["path"].GetString();
    return n;
  };
  const std::string ok = fake.base_url() + "/up/ok";
  const std::string gone = fake.base_url() + "/up/gone";
  const std::string flaky = fake.base_url() + "/up/flaky";

  // Delivered once; the same event again is answered from memory.
  for (int i = 0; i < 2; ++i) {
    HttpResult r = herald.Notify(Body({DeviceJson("org.unifiedpush.a", ok)}));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, R"({"rejected":[]})");
  }
  EXPECT_EQ(requests_to("/up/ok"), 1);
  // Rejected once; rejected again without asking the distributor.
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(RejectedPushkeys(herald.Notify(Body({DeviceJson("org.unifiedpush.a", gone)}))),
              std::vector<std::string>{gone});
  }
  EXPECT_EQ(requests_to("/up/gone"), 1);
  // A failure is not remembered: the homeserver's retry pushes.
  EXPECT_EQ(herald.Notify(Body({DeviceJson("org.unifiedpush.a", flaky)})).status, 502);
  EXPECT_EQ(herald.Notify(Body({DeviceJson("org.unifiedpush.a", flaky)})).status, 200);
  EXPECT_EQ(requests_to("/up/flaky"), 3);
  // Another app id is another push.
  EXPECT_EQ(herald.Notify(Body({DeviceJson("org.unifiedpush.b", ok)})).status, 200);
  EXPECT_EQ(requests_to("/up/ok"), 2);
  // Badge updates (no event_id) always go out.
  const std::string badge = absl::StrCat(R"({"notification":{"counts":{"unread":1},"devices":[)",
                                         DeviceJson("org.unifiedpush.a", ok), "]}}");
  EXPECT_EQ(herald.Notify(badge).status, 200);
  EXPECT_EQ(herald.Notify(badge).status, 200);
  EXPECT_EQ(requests_to("/up/ok"), 4);
  // A retry while the first push is still out is not pushed either; the
  // homeserver gets a 5xx and asks again later.
  const std::string slow = fake.base_url() + "/up/slow";
  HttpResult first;
  std::thread t([&] { first = herald.Notify(Body({DeviceJson("org.unifiedpush.a", slow)})); });
  ASSERT_EQ(fake.Requests(9).Size(), 9u);  // the slow push is at the distributor
  HttpResult second = herald.Notify(Body({DeviceJson("org.unifiedpush.a", slow)}));
  t.join();
  EXPECT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(second.status, 502) << second.body;
  EXPECT_EQ(requests_to("/up/slow"), 1);
}

TEST(ReloadTest, SighupReloadsTheAppsWithoutDroppingRequests) {
  FakeProvider fake;
  Herald herald("  up.first:\n    type: unifiedpush\n    allow_private_addresses: true\n",
                kDispatcher);
  std::string k = fake.base_url() + "/up/second";
  EXPECT_EQ(RejectedPushkeys(herald.Notify(Body({DeviceJson("up.second", k)}))),
            std::vector<std::string>{k});  // not configured yet

  // A broken config is refused; the old one keeps serving.
  std::string good = ReadFile(herald.config_file());
  WriteFile(herald.config_file(), good + "  up.second: {type: unifiedpush, ttl: soon}\n");
  kill(herald.dispatcher().pid(), SIGHUP);
  absl::Time until = absl::Now() + absl::Seconds(5);
  while (herald.dispatcher().Log().find("config not reloaded") == std::string::npos &&
         absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_NE(herald.dispatcher().Log().find("apps.up.second.ttl: must be an integer"),
            std::string::npos);
  EXPECT_EQ(herald.Notify(Body({DeviceJson("up.first", fake.base_url() + "/up/first")})).status,
            200);

  // A good one replaces the apps; a request in flight across the reload is
  // answered.
  fake.SetRules(R"([{"path":"/up/slow","delay_ms":600}])");
  HttpResult in_flight;
  std::thread slow([&] {
    in_flight = herald.Notify(Body({DeviceJson("up.first", fake.base_url() + "/up/slow")}));
  });
  ASSERT_EQ(fake.Requests(2).Size(), 2u);
  WriteFile(herald.config_file(),
            good + "  up.second: {type: unifiedpush, allow_private_addresses: true}\n");
  kill(herald.dispatcher().pid(), SIGHUP);
  until = absl::Now() + absl::Seconds(5);
  while (herald.dispatcher().Log().find("apps reloaded") == std::string::npos &&
         absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  slow.join();
  EXPECT_EQ(in_flight.status, 200) << in_flight.body;
  HttpResult r = herald.Notify(Body({DeviceJson("up.second", k)}));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"rejected":[]})");
  // A SIGHUP does not stop the bridge either: it says so, and still serves.
  kill(herald.bridge().pid(), SIGHUP);
  until = absl::Now() + absl::Seconds(5);
  while (herald.bridge().Log().find("SIGHUP: the bridge has nothing to reload") ==
             std::string::npos &&
         absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_NE(herald.bridge().Log().find("SIGHUP: the bridge has nothing to reload"),
            std::string::npos);
  EXPECT_EQ(HttpCall("GET", herald.url("/health")).status, 200);
  EXPECT_TRUE(herald.bridge().Running());
  EXPECT_TRUE(herald.dispatcher().Running());
}

TEST(UnifiedPushUpstreamTest, DispatcherDownIs503AndBridgeKeepsServing) {
  FakeProvider fake;
  Herald herald(kApps, kDispatcher);
  herald.StopDispatcher();
  HttpResult r = herald.Notify(Body({DeviceJson("org.unifiedpush.a", fake.base_url() + "/up/x")}));
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(std::string(r.Json()["errcode"].GetString()), "M_UNKNOWN");
  EXPECT_EQ(HttpCall("GET", herald.url("/health")).status, 200);
}

TEST(UnifiedPushTlsTest, Http2OverTlsMultiplexesOnFewConnections) {
  TestPki pki = MakeTestPki(TempDir());
  FakeProvider fake(FakeProvider::Options{pki.server_cert, pki.server_key, ""});
  Herald herald(
      absl::StrCat("  up.tls:\n    type: unifiedpush\n    allow_private_addresses: true\n",
                   "    ca_file: ", pki.ca_cert, "\n", "  up.untrusted:\n    type: unifiedpush\n",
                   "    allow_private_addresses: true\n"),
      kDispatcher);
  fake.SetRules(R"([{"path_prefix":"/up/","delay_ms":200}])");
  std::vector<std::string> devices;
  devices.reserve(10);
  for (int i = 0; i < 10; ++i) {
    devices.push_back(DeviceJson("up.tls", fake.base_url() + absl::StrCat("/up/", i)));
  }
  HttpResult r = herald.Notify(Body(devices));
  EXPECT_EQ(r.status, 200) << r.body;
  rapidjson::Document reqs = fake.Requests(10);
  ASSERT_EQ(reqs.Size(), 10u);
  for (const auto& req : reqs.GetArray()) {
    EXPECT_EQ(std::string(req["protocol"].GetString()), "HTTP/2");
    EXPECT_TRUE(req["tls"].GetBool());
  }
  rapidjson::Document stats = fake.Stats();
  EXPECT_EQ(stats["max_in_flight"].GetInt(), 10);
  EXPECT_LE(stats["total_connections"].GetInt(), 2);
  // A second notification reuses the connection.
  int before = stats["total_connections"].GetInt();
  EXPECT_EQ(herald.Notify(Body({DeviceJson("up.tls", fake.base_url() + "/up/again")})).status, 200);
  EXPECT_EQ(fake.Stats()["total_connections"].GetInt(), before);

  // Without the test CA the certificate is not trusted: transient, so 502.
  HttpResult untrusted =
      herald.Notify(Body({DeviceJson("up.untrusted", fake.base_url() + "/up/u")}));
  EXPECT_EQ(untrusted.status, 502) << untrusted.body;
}

}  // namespace
}  // namespace herald::testing
