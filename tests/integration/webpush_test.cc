// Web Push end to end: the real bridge and dispatcher against the fake
// provider acting as a browser's push service (HTTP/2 over TLS). The fake
// decrypts each body with the subscription's private key (RFC 8291) and checks
// the VAPID signature (RFC 8292).
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace herald::testing {
namespace {

// The user agent's subscription: RFC 8291 appendix A's receiver keys.
constexpr char kUaPrivate[] = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
constexpr char kUaPublic[] =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
constexpr char kAuth[] = "BTBZMqHH6r4Tts7J_aSIgg";

std::string Device(const std::string& app_id, const std::string& endpoint,
                   const std::string& auth = kAuth) {
  std::string data = "{";
  if (!endpoint.empty()) absl::StrAppend(&data, R"("endpoint":)", JsonString(endpoint));
  if (!auth.empty()) {
    absl::StrAppend(&data, endpoint.empty() ? "" : ",", R"("auth":)", JsonString(auth));
  }
  data += "}";
  return DeviceJson(app_id, kUaPublic, data);
}

// The spec's example event, whose payload a test compares byte for byte, is
// sent once. Every other notification is a new event, as a homeserver's
// are: every device here has the same pushkey (the test key pair), so with
// the same event the push memory would answer the repeats without pushing.
std::string SpecEvent(const std::vector<std::string>& devices, const std::string& prio = "high",
                      const std::string& event_id = "$3957tyerfgewrf384") {
  return SpecNotifyBody(devices, prio,
                        R"(,"format":"org.matrix.custom.html","formatted_body":"<i>floating</i>")",
                        /*room_alias=*/false, event_id);
}
std::string Notification(const std::vector<std::string>& devices,
                         const std::string& prio = "high") {
  static std::atomic<int> events{0};
  return SpecEvent(devices, prio, absl::StrCat("$event-", ++events));
}

class WebPushTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string dir = TempDir();
    pki_ = new TestPki(MakeTestPki(dir));
    vapid_key_ = new std::string(dir + "/vapid.pem");
    MakeP256Key(*vapid_key_);
    fake_ = new FakeProvider(FakeProvider::Options{pki_->server_cert, pki_->server_key, ""});
    std::string common = absl::StrCat("    vapid_private_key: ", *vapid_key_, "\n",
                                      "    vapid_contact_email: ops@example.org\n",
                                      "    ca_file: ", pki_->ca_cert, "\n");
    herald_ = new Herald(
        absl::StrCat(
            "  com.example.web:\n    type: webpush\n", common,
            "    allow_private_addresses: true\n    only_last_per_room: true\n",
            "  web.allowlist:\n    type: webpush\n", common, "    allow_private_addresses: true\n",
            "    allowed_endpoints: ['push.example.org']\n", "  web.strict:\n    type: webpush\n",
            common, "  web.events:\n    type: webpush\n", common,
            "    allow_private_addresses: true\n    events_only: true\n    ttl: 60\n",
            "  web.plain:\n    type: webpush\n", common,
            "    allow_private_addresses: true\n    max_connections: 2\n"),
        "  deadline: 5\n  retry_initial_backoff: 0.05\n  max_attempts: 3\n"
        "  metrics_listen: 127.0.0.1:0\n");
  }
  static void TearDownTestSuite() {
    delete herald_;
    delete fake_;
    delete pki_;
    delete vapid_key_;
  }
  void SetUp() override { fake_->Reset(); }

  static void SetRules(const std::string& more) {
    fake_->SetRules(absl::StrCat(
        R"([{"jwt":{"valid":false},"status":403,"body":"bad vapid"},)", more,
        more.empty() ? "" : ",",
        R"({"path_prefix":"/push/","status":201,"webpush_decrypt":{"ua_private_key":")", kUaPrivate,
        R"(","auth_secret":")", kAuth, R"("}}])"));
  }
  static std::string Endpoint(const std::string& name) {
    return fake_->base_url() + "/push/" + name;
  }

  static TestPki* pki_;
  static std::string* vapid_key_;
  static FakeProvider* fake_;
  static Herald* herald_;
};

TestPki* WebPushTest::pki_ = nullptr;
std::string* WebPushTest::vapid_key_ = nullptr;
FakeProvider* WebPushTest::fake_ = nullptr;
Herald* WebPushTest::herald_ = nullptr;

TEST_F(WebPushTest, DeliversAnEncryptedSygnalPayloadWithVapid) {
  SetRules("");
  HttpResult r = herald_->Notify(SpecEvent({Device("com.example.web", Endpoint("sub1"))}));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"rejected":[]})");
  rapidjson::Document reqs = fake_->Requests(1);
  ASSERT_EQ(reqs.Size(), 1u);
  const rapidjson::Value& req = reqs[0];
  EXPECT_EQ(std::string(req["path"].GetString()), "/push/sub1");
  EXPECT_EQ(RequestHeader(req, "content-encoding"), "aes128gcm");
  EXPECT_EQ(RequestHeader(req, "ttl"), "900");
  EXPECT_EQ(RequestHeader(req, "urgency"), "normal");
  EXPECT_EQ(RequestHeader(req, "topic").size(), 32u);
  ASSERT_TRUE(req.HasMember("webpush_plaintext"))
      << (req.HasMember("webpush_error") ? req["webpush_error"].GetString() : "no decryption");
  EXPECT_EQ(std::string(req["webpush_plaintext"].GetString()),
            R"({"room_id":"!slw48wfj34rtnrf:example.com","room_name":"Mission Control",)"
            R"("event_id":"$3957tyerfgewrf384","sender":"@exampleuser:matrix.org",)"
            R"("sender_display_name":"Major Tom","type":"m.room.message","unread":2,)"
            R"("missed_calls":1,"content":{"msgtype":"m.text",)"
            R"("body":"I'm floating in a most peculiar way.","format":"org.matrix.custom.html"}})");
  // VAPID: verified by the fake with k=, for this origin, from our contact.
  EXPECT_TRUE(req["jwt_valid"].GetBool());
  const rapidjson::Value& jwt = req["jwt"];
  EXPECT_EQ(std::string(jwt["scheme"].GetString()), "vapid");
  EXPECT_EQ(std::string(jwt["header"]["alg"].GetString()), "ES256");
  EXPECT_EQ(std::string(jwt["claims"]["aud"].GetString()), fake_->base_url());
  EXPECT_EQ(std::string(jwt["claims"]["sub"].GetString()), "mailto:ops@example.org");
  int64_t exp = jwt["claims"]["exp"].GetInt64();
  int64_t now = absl::ToUnixSeconds(absl::Now());
  EXPECT_GT(exp, now);
  EXPECT_LE(exp, now + 24 * 3600);
}

TEST_F(WebPushTest, LowPriorityAndEventsOnly) {
  SetRules("");
  HttpResult r = herald_->Notify(Notification({Device("web.events", Endpoint("low"))}, "low"));
  EXPECT_EQ(r.status, 200) << r.body;
  rapidjson::Document reqs = fake_->Requests(1);
  ASSERT_EQ(reqs.Size(), 1u);
  EXPECT_EQ(RequestHeader(reqs[0], "urgency"), "low");
  EXPECT_EQ(RequestHeader(reqs[0], "ttl"), "60");
  EXPECT_EQ(RequestHeader(reqs[0], "topic"), "<absent>");
  // A badge-only update is not an event: nothing sent, nothing rejected.
  HttpResult badge =
      herald_->Notify(absl::StrCat(R"({"notification":{"counts":{"unread":1},"devices":[)",
                                   Device("web.events", Endpoint("badge")), "]}}"));
  EXPECT_EQ(badge.status, 200) << badge.body;
  EXPECT_EQ(badge.body, R"({"rejected":[]})");
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 1);
}

TEST_F(WebPushTest, GoneSubscriptionsAreRejected) {
  SetRules(R"({"path":"/push/gone404","status":404},{"path":"/push/gone410","status":410})");
  HttpResult r = herald_->Notify(Notification({Device("com.example.web", Endpoint("gone404")),
                                               Device("com.example.web", Endpoint("gone410")),
                                               Device("com.example.web", Endpoint("fine"))}));
  EXPECT_EQ(r.status, 200) << r.body;
  // Both devices share the pushkey (the p256dh key): listed once.
  EXPECT_EQ(RejectedPushkeys(r), std::vector<std::string>{kUaPublic});
}

TEST_F(WebPushTest, RefusedMessagesAreDroppedNotRetriedNotRejected) {
  const std::string series = R"(herald_pushes_total{app="com.example.web",outcome="dropped"})";
  const double before = std::max(0.0, MetricValue(herald_->DispatcherMetrics(), series));
  SetRules(R"({"path":"/push/toolarge","status":413},{"path":"/push/invalid","status":400})");
  for (const char* name : {"toolarge", "invalid"}) {
    HttpResult r = herald_->Notify(Notification({Device("com.example.web", Endpoint(name))}));
    // 200: a 5xx would hold the device's later pushes behind this one.
    EXPECT_EQ(r.status, 200) << name << " " << r.body;
    EXPECT_EQ(r.body, R"({"rejected":[]})") << name;
  }
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 2);  // no retries
  EXPECT_EQ(MetricValue(herald_->DispatcherMetrics(), series), before + 2);
  const std::string log = herald_->dispatcher().Log();
  EXPECT_NE(log.find("app com.example.web pushkey BCVxsr…(87 chars, #"), std::string::npos);
  EXPECT_NE(log.find("notification dropped, the pushkey is kept: push service answered 413"),
            std::string::npos);
  EXPECT_NE(log.find("notification dropped, the pushkey is kept: push service answered 400"),
            std::string::npos);
  EXPECT_EQ(log.find(kUaPublic), std::string::npos);  // never the whole pushkey
}

TEST_F(WebPushTest, LongNamesAreCutToFit) {
  SetRules("");
  const std::string room(2500, 'r'), name(2500, 's');
  HttpResult r = herald_->Notify(absl::StrCat(
      R"({"notification":{"event_id":"$big","room_id":"!r:x","type":"m.room.message",)",
      R"("sender":"@a:x","room_name":")", room, R"(","sender_display_name":")", name,
      R"(","content":{"msgtype":"m.text","body":"hello"},"devices":[)",
      Device("web.plain", Endpoint("big")), "]}}"));
  EXPECT_EQ(r.status, 200) << r.body;
  rapidjson::Document reqs = fake_->Requests(1);
  ASSERT_EQ(reqs.Size(), 1u);
  ASSERT_TRUE(reqs[0].HasMember("webpush_plaintext"));
  const std::string plain = reqs[0]["webpush_plaintext"].GetString();
  EXPECT_LE(plain.size(), 3993u);
  EXPECT_GT(plain.size(), 3980u);  // cut no more than needed
  EXPECT_NE(plain.find(absl::StrCat(R"("room_name":")", room, R"(")")), std::string::npos);
  EXPECT_NE(plain.find(R"("sender_display_name":"sss)"), std::string::npos);
  EXPECT_NE(plain.find(R"("event_id":"$big")"), std::string::npos);
  EXPECT_LE(std::string(reqs[0]["body_b64"].GetString()).size(), 4096u * 4 / 3 + 4);
}

TEST_F(WebPushTest, KeysInAnyBase64AreAccepted) {
  SetRules("");
  // The RFC 8291 subscription in standard base64, padded, as some clients
  // and Sygnal's users have it stored.
  auto standard = [](std::string key) {
    for (char& c : key) c = c == '-' ? '+' : c == '_' ? '/' : c;
    while (key.size() % 4 != 0) key += '=';
    return key;
  };
  const std::string p256dh = standard(kUaPublic), auth = standard(kAuth);
  ASSERT_NE(p256dh, kUaPublic);
  HttpResult r = herald_->Notify(
      Notification({DeviceJson("web.plain", p256dh,
                               absl::StrCat(R"({"endpoint":)", JsonString(Endpoint("std")),
                                            R"(,"auth":)", JsonString(auth), "}"))}));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"rejected":[]})");
  rapidjson::Document reqs = fake_->Requests(1);
  ASSERT_EQ(reqs.Size(), 1u);
  EXPECT_TRUE(reqs[0].HasMember("webpush_plaintext"))
      << (reqs[0].HasMember("webpush_error") ? reqs[0]["webpush_error"].GetString() : "");
}

TEST_F(WebPushTest, ClientSettingsComeFromThePushersData) {
  SetRules("");
  auto device = [](const std::string& app, const std::string& name, const std::string& more) {
    return DeviceJson(app, kUaPublic,
                      absl::StrCat(R"({"endpoint":)", JsonString(Endpoint(name)), R"(,"auth":)",
                                   JsonString(kAuth), more, "}"));
  };
  // only_last_per_room set by the client: a Topic, the same for the same room.
  HttpResult r = herald_->Notify(
      Notification({device("web.plain", "topic1", R"(,"only_last_per_room":true)"),
                    device("web.plain", "topic2", R"(,"only_last_per_room":true)"),
                    device("com.example.web", "notopic", R"(,"only_last_per_room":false)")}));
  EXPECT_EQ(r.status, 200) << r.body;
  rapidjson::Document reqs = fake_->Requests(3);
  ASSERT_EQ(reqs.Size(), 3u);
  std::map<std::string, std::string> topics;
  for (const auto& req : reqs.GetArray())
    topics[req["path"].GetString()] = RequestHeader(req, "topic");
  EXPECT_EQ(topics["/push/topic1"].size(), 32u);
  EXPECT_EQ(topics["/push/topic1"], topics["/push/topic2"]);
  EXPECT_EQ(topics["/push/notopic"], "<absent>");  // the client's false beats the app's true

  // events_only set by the client: a badge-only update is neither sent nor rejected.
  fake_->Reset();
  SetRules("");
  HttpResult badge = herald_->Notify(absl::StrCat(
      R"({"notification":{"id":"","type":null,"sender":"","counts":{"unread":1},"devices":[)",
      device("web.plain", "eo", R"(,"events_only":true)"), ",", device("web.plain", "all", ""),
      "]}}"));
  EXPECT_EQ(badge.status, 200) << badge.body;
  EXPECT_EQ(badge.body, R"({"rejected":[]})");
  reqs = fake_->Requests(1);
  ASSERT_EQ(reqs.Size(), 1u);
  EXPECT_EQ(std::string(reqs[0]["path"].GetString()), "/push/all");
}

TEST(WebPushFailureTest, AnEncryptionFailureIsA5xxNeverARejection) {
  std::string dir = TempDir();
  TestPki pki = MakeTestPki(dir);
  std::string vapid = dir + "/enc-vapid.pem";
  MakeP256Key(vapid);
  FakeProvider fake(FakeProvider::Options{pki.server_cert, pki.server_key, ""});
  setenv("HERALD_FAILPOINTS", "webpush_encrypt", 1);  // read by the dispatcher at start
  Herald herald(absl::StrCat("  web.app:\n    type: webpush\n    vapid_private_key: ", vapid,
                             "\n    vapid_contact_email: ops@example.org\n    ca_file: ",
                             pki.ca_cert, "\n    allow_private_addresses: true\n"),
                "  max_attempts: 2\n");
  unsetenv("HERALD_FAILPOINTS");
  HttpResult r = herald.Notify(SpecNotifyBody(
      {DeviceJson("web.app", kUaPublic,
                  absl::StrCat(R"({"endpoint":)", JsonString(fake.base_url() + "/push/x"),
                               R"(,"auth":)", JsonString(kAuth), "}"))}));
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_NE(r.body.find("cannot encrypt the push"), std::string::npos) << r.body;
  EXPECT_EQ(fake.Stats()["total"].GetInt(), 0);
}

TEST_F(WebPushTest, OtherClientErrorsFailAndServerErrorsRetry) {
  SetRules(R"({"path":"/push/forbidden","status":403})");
  HttpResult forbidden =
      herald_->Notify(Notification({Device("com.example.web", Endpoint("forbidden"))}));
  EXPECT_EQ(forbidden.status, 502) << forbidden.body;
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 1);
  fake_->Reset();
  SetRules(R"({"path":"/push/busy","status":429},{"path":"/push/down","status":500})");
  HttpResult busy = herald_->Notify(Notification(
      {Device("com.example.web", Endpoint("busy")), Device("com.example.web", Endpoint("down"))}));
  EXPECT_EQ(busy.status, 502) << busy.body;
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 6);
}

TEST_F(WebPushTest, UnusableSubscriptionDataIsRejectedWithoutUpstreamCall) {
  SetRules("");
  HttpResult r = herald_->Notify(Notification({Device("com.example.web", "", kAuth)}));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(RejectedPushkeys(r), std::vector<std::string>{kUaPublic});
  HttpResult r2 = herald_->Notify(Notification({Device("com.example.web", Endpoint("x"), "")}));
  EXPECT_EQ(RejectedPushkeys(r2), std::vector<std::string>{kUaPublic});
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 0);
}

TEST_F(WebPushTest, DisallowedOrPrivateEndpointsAreNotSentAndNotRejected) {
  SetRules("");
  HttpResult r = herald_->Notify(
      Notification({Device("web.allowlist", Endpoint("a")), Device("web.strict", Endpoint("b"))}));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"rejected":[]})");
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 0);
  std::string log = herald_->dispatcher().Log();
  EXPECT_NE(log.find("is not in allowed_endpoints; not sent"), std::string::npos);
  EXPECT_NE(log.find("resolves to a private address"), std::string::npos);
}

TEST(WebPushCliTest, PrintsTheVapidPublicKey) {
  std::string dir = TempDir();
  std::string key = dir + "/cli-vapid.pem";
  MakeP256Key(key);
  std::string file = dir + "/cli.yaml";
  WriteFile(file, absl::StrCat("apps:\n  web.app:\n    type: webpush\n    vapid_private_key: ", key,
                               "\n    vapid_contact_email: ops@example.org\n"));
  Process p;
  p.Start({Runfile("dispatcher/herald-dispatcher"), "--config", file, "--print-vapid-public-key",
           "web.app"},
          file + ".out");
  p.Wait(absl::Seconds(10));
  std::string out = ReadFile(file + ".out");
  // 65 bytes → 87 base64url characters, starting with 'B' (0x04).
  ASSERT_GE(out.size(), 87u) << out;
  EXPECT_EQ(out[0], 'B') << out;
  EXPECT_EQ(
      out.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      87u)
      << out;
}

}  // namespace
}  // namespace herald::testing
