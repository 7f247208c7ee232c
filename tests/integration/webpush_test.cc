// Web Push end to end: the real bridge and dispatcher against the fake
// provider acting as a browser's push service (HTTP/2 over TLS). The fake
// decrypts each body with the subscription's private key (RFC 8291) and checks
// the VAPID signature (RFC 8292).
#include <cstdlib>

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

std::string Notification(const std::vector<std::string>& devices, const std::string& prio = "high") {
  return SpecNotifyBody(
      devices, prio, R"(,"format":"org.matrix.custom.html","formatted_body":"<i>floating</i>")");
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
        absl::StrCat("  com.example.web:\n    type: webpush\n", common,
                     "    allow_private_addresses: true\n    only_last_per_room: true\n",
                     "  web.allowlist:\n    type: webpush\n", common,
                     "    allow_private_addresses: true\n",
                     "    allowed_endpoints: ['push.example.org']\n",
                     "  web.strict:\n    type: webpush\n", common,
                     "  web.events:\n    type: webpush\n", common,
                     "    allow_private_addresses: true\n    events_only: true\n    ttl: 60\n"),
        "  deadline: 5\n  retry_initial_backoff: 0.05\n  max_attempts: 3\n");
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
        R"({"path_prefix":"/push/","status":201,"webpush_decrypt":{"ua_private_key":")",
        kUaPrivate, R"(","auth_secret":")", kAuth, R"("}}])"));
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
  HttpResult r = herald_->Notify(Notification({Device("com.example.web", Endpoint("sub1"))}));
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
  ASSERT_TRUE(req.HasMember("webpush_plaintext")) << (req.HasMember("webpush_error")
                                                          ? req["webpush_error"].GetString()
                                                          : "no decryption");
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
  HttpResult badge = herald_->Notify(absl::StrCat(
      R"({"notification":{"counts":{"unread":1},"devices":[)",
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

TEST_F(WebPushTest, OtherClientErrorsFailAndServerErrorsRetry) {
  SetRules(R"({"path":"/push/toolarge","status":413},{"path":"/push/busy","status":429},
              {"path":"/push/down","status":500})");
  HttpResult big = herald_->Notify(Notification({Device("com.example.web", Endpoint("toolarge"))}));
  EXPECT_EQ(big.status, 502) << big.body;
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 1);
  fake_->Reset();
  SetRules(R"({"path":"/push/busy","status":429},{"path":"/push/down","status":500})");
  HttpResult busy = herald_->Notify(Notification({Device("com.example.web", Endpoint("busy")),
                                                  Device("com.example.web", Endpoint("down"))}));
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
  HttpResult r = herald_->Notify(Notification({Device("web.allowlist", Endpoint("a")),
                                               Device("web.strict", Endpoint("b"))}));
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
  p.Start({Runfile("dispatcher/herald-dispatcher"), "--config", file,
           "--print-vapid-public-key", "web.app"},
          file + ".out");
  p.Wait(absl::Seconds(10));
  std::string out = ReadFile(file + ".out");
  // 65 bytes → 87 base64url characters, starting with 'B' (0x04).
  ASSERT_GE(out.size(), 87u) << out;
  EXPECT_EQ(out[0], 'B') << out;
  EXPECT_EQ(out.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            87u)
      << out;
}

}  // namespace
}  // namespace herald::testing
