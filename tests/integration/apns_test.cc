// APNs end to end: the real bridge and dispatcher against the fake provider
// speaking HTTP/2 over TLS (a test CA made at test time), which checks the
// provider token's signature like Apple does.
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace herald::testing {
namespace {

std::string Base64(const std::string& bytes) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i + 1 == bytes.size()) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += "=";
  }
  return out;
}

// A device token: 32 bytes, all `fill`. Returns {pushkey (base64), hex}.
std::pair<std::string, std::string> Token(uint8_t fill) {
  std::string bytes(32, static_cast<char>(fill));
  std::string hex;
  for (int i = 0; i < 32; ++i) absl::StrAppend(&hex, absl::Hex(fill, absl::kZeroPad2));
  return {Base64(bytes), hex};
}

std::string Notification(const std::vector<std::string>& pushkeys, const std::string& app_id,
                         const std::string& prio = "high") {
  std::vector<std::string> devices;
  devices.reserve(pushkeys.size());
  for (const std::string& k : pushkeys) devices.push_back(DeviceJson(app_id, k, "{}"));
  return SpecNotifyBody(devices, prio);
}

size_t CountOf(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class ApnsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string dir = TempDir();
    pki_ = new TestPki(MakeTestPki(dir));
    key_file_ = dir + "/AuthKey_TEST.p8";
    MakeP256Key(key_file_);
    std::string cmd =
        absl::StrCat("openssl pkey -in '", key_file_, "' -pubout -out '", dir, "/apns-public.pem'");
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    public_pem_ = ReadFile(dir + "/apns-public.pem");
    fake_ = new FakeProvider(FakeProvider::Options{pki_->server_cert, pki_->server_key, ""});
    cert_fake_ =
        new FakeProvider(FakeProvider::Options{pki_->server_cert, pki_->server_key, pki_->ca_cert});
    herald_ = new Herald(absl::StrCat("  com.example.app.ios:\n"
                                      "    type: apns\n"
                                      "    keyfile: ",
                                      key_file_,
                                      "\n"
                                      "    key_id: KEYID12345\n"
                                      "    team_id: TEAMID1234\n"
                                      "    topic: com.example.app\n"
                                      "    push_type: alert\n"
                                      "    endpoint: ",
                                      fake_->base_url(),
                                      "\n"
                                      "    ca_file: ",
                                      pki_->ca_cert,
                                      "\n"
                                      "    max_connections: 2\n"
                                      "  com.example.app.cert:\n"
                                      "    type: apns\n"
                                      "    certfile: ",
                                      pki_->client_cert_and_key,
                                      "\n"
                                      "    topic: com.example.app\n"
                                      "    endpoint: ",
                                      cert_fake_->base_url(),
                                      "\n"
                                      "    ca_file: ",
                                      pki_->ca_cert,
                                      "\n"
                                      "  com.example.app.nobadge:\n"
                                      "    type: apns\n"
                                      "    keyfile: ",
                                      key_file_,
                                      "\n"
                                      "    key_id: KEYID12345\n"
                                      "    team_id: TEAMID1234\n"
                                      "    topic: com.example.app\n"
                                      "    endpoint: ",
                                      fake_->base_url(),
                                      "\n"
                                      "    ca_file: ",
                                      pki_->ca_cert,
                                      "\n"
                                      "    send_badge_counts: false\n"),
                         "  deadline: 5\n  retry_initial_backoff: 0.05\n  max_attempts: 3\n"
                         "  metrics_listen: 127.0.0.1:0\n");
  }
  static void TearDownTestSuite() {
    delete herald_;
    delete fake_;
    delete cert_fake_;
    delete pki_;
  }
  void SetUp() override {
    fake_->Reset();
    cert_fake_->Reset();
  }
  // Rules after the token check every test starts with.
  static void SetRules(const std::string& more) {
    fake_->SetRules(absl::StrCat(R"([{"jwt":{"valid":false,"public_key_pem":)",
                                 JsonString(public_pem_),
                                 R"(},"status":403,"json":{"reason":"InvalidProviderToken"}})",
                                 more.empty() ? "" : ",", more, "]"));
  }
  static std::string Path(const std::string& hex) { return "/3/device/" + hex; }

  static TestPki* pki_;
  static std::string key_file_;
  static std::string public_pem_;
  static FakeProvider* fake_;
  static FakeProvider* cert_fake_;
  static Herald* herald_;
};

TestPki* ApnsTest::pki_ = nullptr;
std::string ApnsTest::key_file_;
std::string ApnsTest::public_pem_;
FakeProvider* ApnsTest::fake_ = nullptr;
FakeProvider* ApnsTest::cert_fake_ = nullptr;
Herald* ApnsTest::herald_ = nullptr;

TEST_F(ApnsTest, DeliversSygnalsPayloadWithAppleHeaders) {
  SetRules("");
  auto [key, hex] = Token(0xAB);
  HttpResult r = herald_->Notify(Notification({key}, "com.example.app.ios"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"rejected":[]})");
  rapidjson::Document reqs = fake_->Requests(1);
  ASSERT_EQ(reqs.Size(), 1u);
  const rapidjson::Value& req = reqs[0];
  EXPECT_EQ(std::string(req["method"].GetString()), "POST");
  EXPECT_EQ(std::string(req["path"].GetString()), Path(hex));
  EXPECT_EQ(std::string(req["protocol"].GetString()), "HTTP/2");
  EXPECT_EQ(RequestHeader(req, "apns-topic"), "com.example.app");
  EXPECT_EQ(RequestHeader(req, "apns-push-type"), "alert");
  EXPECT_EQ(RequestHeader(req, "apns-priority"), "10");
  EXPECT_EQ(RequestHeader(req, "apns-id").size(), 36u);
  EXPECT_EQ(RequestHeader(req, "authorization").rfind("bearer ", 0), 0u);
  ASSERT_TRUE(req.HasMember("jwt") && req["jwt"].IsObject());
  EXPECT_EQ(std::string(req["jwt"]["header"]["alg"].GetString()), "ES256");
  EXPECT_EQ(std::string(req["jwt"]["header"]["kid"].GetString()), "KEYID12345");
  EXPECT_EQ(std::string(req["jwt"]["claims"]["iss"].GetString()), "TEAMID1234");
  EXPECT_TRUE(req["jwt"]["claims"]["iat"].IsInt64());
  EXPECT_TRUE(req["jwt_valid"].GetBool());
  EXPECT_EQ(
      std::string(req["body"].GetString()),
      R"({"aps":{"alert":{"loc-key":"MSG_FROM_USER_IN_ROOM_WITH_CONTENT",)"
      R"("loc-args":["Major Tom","Mission Control","I'm floating in a most peculiar way."]},)"
      R"("badge":3},"room_id":"!slw48wfj34rtnrf:example.com","event_id":"$3957tyerfgewrf384"})");
}

TEST_F(ApnsTest, LowPriorityIsFive) {
  SetRules("");
  auto [key, hex] = Token(0x01);
  EXPECT_EQ(herald_->Notify(Notification({key}, "com.example.app.ios", "low")).status, 200);
  rapidjson::Document reqs = fake_->Requests(1);
  ASSERT_EQ(reqs.Size(), 1u);
  EXPECT_EQ(RequestHeader(reqs[0], "apns-priority"), "5");
}

TEST_F(ApnsTest, DeadTokensAreRejected) {
  auto [bad, bad_hex] = Token(0x02);
  auto [gone, gone_hex] = Token(0x03);
  auto [topic, topic_hex] = Token(0x04);
  auto [ok, ok_hex] = Token(0x05);
  SetRules(absl::StrCat(
      R"({"path":")", Path(bad_hex), R"(","status":400,"json":{"reason":"BadDeviceToken"}},)",
      R"({"path":")", Path(gone_hex),
      R"(","status":410,"json":{"reason":"Unregistered","timestamp":1700000000000}},)",
      R"({"path":")", Path(topic_hex),
      R"(","status":400,"json":{"reason":"DeviceTokenNotForTopic"}})"));
  HttpResult r = herald_->Notify(Notification({bad, gone, topic, ok}, "com.example.app.ios"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(RejectedPushkeys(r), (std::vector<std::string>{bad, gone, topic}));
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 4);
}

TEST_F(ApnsTest, InvalidBase64TokenIsRejectedWithoutUpstreamCall) {
  SetRules("");
  HttpResult r = herald_->Notify(Notification({"not base64!"}, "com.example.app.ios"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(RejectedPushkeys(r), std::vector<std::string>{"not base64!"});
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 0);
}

TEST_F(ApnsTest, TransientErrorsAreRetriedThen502) {
  for (int status : {429, 500, 503}) {
    fake_->Reset();
    auto [key, hex] = Token(0x10);
    SetRules(absl::StrCat(R"({"path":")", Path(hex), R"(","status":)", status,
                          R"(,"json":{"reason":"x"}})"));
    HttpResult r = herald_->Notify(Notification({key}, "com.example.app.ios"));
    EXPECT_EQ(r.status, 502) << status << " " << r.body;
    EXPECT_EQ(fake_->Stats()["total"].GetInt(), 3) << status;
  }
}

TEST_F(ApnsTest, OtherErrorsFailWithoutRetryOrRejection) {
  auto [key, hex] = Token(0x11);
  SetRules(
      absl::StrCat(R"({"path":")", Path(hex), R"(","status":400,"json":{"reason":"BadTopic"}})"));
  HttpResult r = herald_->Notify(Notification({key}, "com.example.app.ios"));
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 1);
}

// Apple answers 429 TooManyProviderTokenUpdates when a key's token changes
// more often than every 20 minutes: one token for every push of the key,
// through an ExpiredProviderToken storm and a config reload.
TEST_F(ApnsTest, OneProviderTokenPerKeyThroughExpiredAnswersAndReload) {
  auto [a, a_hex] = Token(0x12);
  auto [b, b_hex] = Token(0x1A);
  auto [c, c_hex] = Token(0x1B);
  auto [d, d_hex] = Token(0x1F);  // tokens are one per test: the push memory is on
  SetRules(absl::StrCat(R"({"path":")", Path(b_hex), R"(","status":403,)",
                        R"("json":{"reason":"ExpiredProviderToken"}})"));
  ASSERT_EQ(herald_->Notify(Notification({a}, "com.example.app.ios")).status, 200);
  // A fresh token refused: renewing would break Apple's rule and not help.
  // 502 (the operator looks at the key or the clock), no retry, no new token.
  HttpResult expired = herald_->Notify(Notification({b}, "com.example.app.ios"));
  EXPECT_EQ(expired.status, 502) << expired.body;
  EXPECT_NE(expired.body.find("ExpiredProviderToken"), std::string::npos) << expired.body;
  // Another app on the same key shares its token.
  ASSERT_EQ(herald_->Notify(Notification({c}, "com.example.app.nobadge")).status, 200);
  rapidjson::Document before = fake_->Requests(3);
  ASSERT_EQ(before.Size(), 3u);
  const std::string token = RequestHeader(before[0], "authorization");
  for (const auto& req : before.GetArray()) EXPECT_EQ(RequestHeader(req, "authorization"), token);

  // SIGHUP with the key file unchanged keeps the token.
  const size_t reloads = CountOf(herald_->dispatcher().Log(), "SIGHUP: apps reloaded");
  kill(herald_->dispatcher().pid(), SIGHUP);
  for (int i = 0;
       i < 200 && CountOf(herald_->dispatcher().Log(), "SIGHUP: apps reloaded") == reloads; ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_GT(CountOf(herald_->dispatcher().Log(), "SIGHUP: apps reloaded"), reloads);
  // (A device not pushed for this event yet: `a` would be answered from memory.)
  ASSERT_EQ(herald_->Notify(Notification({d}, "com.example.app.ios")).status, 200);
  rapidjson::Document after = fake_->Requests(4);
  ASSERT_EQ(after.Size(), 4u);
  EXPECT_EQ(RequestHeader(after[3], "authorization"), token);
  EXPECT_TRUE(after[3]["jwt_valid"].GetBool());
}

TEST_F(ApnsTest, RefusedPayloadsAreDroppedNotRetriedNotRejected) {
  auto [big, big_hex] = Token(0x1C);
  auto [empty, empty_hex] = Token(0x1D);
  const std::string series = R"(herald_pushes_total{app="com.example.app.ios",outcome="dropped"})";
  const double before = std::max(0.0, MetricValue(herald_->DispatcherMetrics(), series));
  SetRules(absl::StrCat(R"({"path":")", Path(big_hex), R"(","status":413,)",
                        R"("json":{"reason":"PayloadTooLarge"}},)", R"({"path":")", Path(empty_hex),
                        R"(","status":400,"json":{"reason":"PayloadEmpty"}})"));
  for (const std::string& key : {big, empty}) {
    HttpResult r = herald_->Notify(Notification({key}, "com.example.app.ios"));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, R"({"rejected":[]})");
  }
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 2);
  EXPECT_EQ(MetricValue(herald_->DispatcherMetrics(), series), before + 2);
  const std::string log = herald_->dispatcher().Log();
  EXPECT_NE(
      log.find("notification dropped, the pushkey is kept: APNs answered 413 PayloadTooLarge"),
      std::string::npos);
  EXPECT_NE(log.find("notification dropped, the pushkey is kept: APNs answered 400 PayloadEmpty"),
            std::string::npos);
}

TEST_F(ApnsTest, AHugePushkeyIsRejectedAtOnce) {
  SetRules("");
  const std::string huge(300 * 1024, 'A');
  HttpResult r = herald_->Notify(Notification({huge}, "com.example.app.ios"));
  // Rejected without a call (it used to be tried, and answered 502 for ever).
  EXPECT_EQ(r.status, 200) << r.body.substr(0, 200);
  EXPECT_EQ(RejectedPushkeys(r), std::vector<std::string>{huge});
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 0);
}

TEST_F(ApnsTest, UrlSafeAndUnpaddedTokensAreAccepted) {
  SetRules("");
  // 0xFB bytes encode as "+" and "/" in standard base64: "-" and "_" here.
  auto [key, hex] = Token(0xFB);
  std::string url_safe = key;
  for (char& ch : url_safe) ch = ch == '+' ? '-' : ch == '/' ? '_' : ch;
  while (!url_safe.empty() && url_safe.back() == '=') url_safe.pop_back();
  ASSERT_NE(url_safe, key);
  HttpResult r = herald_->Notify(Notification({url_safe}, "com.example.app.ios"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"rejected":[]})");
  rapidjson::Document reqs = fake_->Requests(1);
  ASSERT_EQ(reqs.Size(), 1u);
  EXPECT_EQ(std::string(reqs[0]["path"].GetString()), Path(hex));
}

TEST_F(ApnsTest, SendBadgeCountsFalseSendsNoBadge) {
  SetRules("");
  auto [key, hex] = Token(0x1E);
  HttpResult r = herald_->Notify(Notification({key}, "com.example.app.nobadge"));
  EXPECT_EQ(r.status, 200) << r.body;
  rapidjson::Document reqs = fake_->Requests(1);
  ASSERT_EQ(reqs.Size(), 1u);
  EXPECT_EQ(
      std::string(reqs[0]["body"].GetString()),
      R"({"aps":{"alert":{"loc-key":"MSG_FROM_USER_IN_ROOM_WITH_CONTENT",)"
      R"("loc-args":["Major Tom","Mission Control","I'm floating in a most peculiar way."]}},)"
      R"("room_id":"!slw48wfj34rtnrf:example.com","event_id":"$3957tyerfgewrf384"})");
  // A badge-only update has nothing left to send.
  fake_->Reset();
  HttpResult badge = herald_->Notify(absl::StrCat(
      R"({"notification":{"id":"","type":null,"sender":"","counts":{"unread":4},"devices":[)",
      DeviceJson("com.example.app.nobadge", key, "{}"), "]}}"));
  EXPECT_EQ(badge.status, 200) << badge.body;
  EXPECT_EQ(badge.body, R"({"rejected":[]})");
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 0);
}

TEST_F(ApnsTest, ResetStreamAndGoawayAreSurvived) {
  auto [a, a_hex] = Token(0x13);
  auto [b, b_hex] = Token(0x14);
  SetRules(absl::StrCat(R"({"path":")", Path(a_hex), R"(","times":1,"action":"reset"},)",
                        R"({"path":")", Path(b_hex), R"(","times":1,"action":"goaway"})"));
  HttpResult r = herald_->Notify(Notification({a}, "com.example.app.ios"));
  EXPECT_EQ(r.status, 200) << r.body;
  HttpResult r2 = herald_->Notify(Notification({b}, "com.example.app.ios"));
  EXPECT_EQ(r2.status, 200) << r2.body;
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 4);
}

TEST_F(ApnsTest, ManyDevicesShareAFewConnections) {
  SetRules(R"({"path_prefix":"/3/device/","delay_ms":200})");
  std::vector<std::string> keys;
  keys.reserve(20);
  for (int i = 0; i < 20; ++i) keys.push_back(Token(0x20 + i).first);
  HttpResult r = herald_->Notify(Notification(keys, "com.example.app.ios"));
  EXPECT_EQ(r.status, 200) << r.body;
  rapidjson::Document stats = fake_->Stats();
  EXPECT_EQ(stats["total"].GetInt(), 20);
  EXPECT_EQ(stats["max_in_flight"].GetInt(), 20);
  // The connections these pushes used (other apps' and a reloaded
  // registry's idle ones may be open too).
  std::set<int> used;
  rapidjson::Document reqs = fake_->Requests(20);
  for (const auto& req : reqs.GetArray()) used.insert(req["connection_id"].GetInt());
  EXPECT_LE(used.size(), 2u);
}

TEST_F(ApnsTest, NothingToShowSendsNothing) {
  SetRules("");
  auto [key, hex] = Token(0x15);
  HttpResult r = herald_->Notify(absl::StrCat(
      R"({"notification":{"room_id":"!r:example.org","devices":[{"app_id":"com.example.app.ios","pushkey":)",
      JsonString(key), "}]}}"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"rejected":[]})");
  EXPECT_EQ(fake_->Stats()["total"].GetInt(), 0);
}

TEST_F(ApnsTest, CertificateAuthPresentsTheClientCertificate) {
  auto [key, hex] = Token(0x16);
  HttpResult r = herald_->Notify(Notification({key}, "com.example.app.cert"));
  EXPECT_EQ(r.status, 200) << r.body;
  rapidjson::Document reqs = cert_fake_->Requests(1);
  ASSERT_EQ(reqs.Size(), 1u);
  EXPECT_NE(std::string(reqs[0]["client_cert_subject"].GetString()).find("herald-client"),
            std::string::npos);
  EXPECT_EQ(RequestHeader(reqs[0], "authorization"), "<absent>");
  EXPECT_EQ(std::string(reqs[0]["path"].GetString()), Path(hex));
}

}  // namespace
}  // namespace herald::testing
