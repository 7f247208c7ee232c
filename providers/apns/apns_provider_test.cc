#include "providers/apns/apns_provider.h"
#include "providers/common/encoding.h"

#include <cstdlib>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/manual_clock.h"
#include "gtest/gtest.h"
#include "http/fake_http_client.h"
#include "providers/common/jose_testing.h"
#include "providers/common/jws_verify.h"
#include "providers/common/spec_notification.h"
#include "rapidjson/document.h"

namespace herald::providers::apns {
namespace {

http::HttpResponse Answer(int status, const std::string& reason = "") {
  http::HttpResponse r;
  r.status = status;
  if (!reason.empty()) r.body = "{\"reason\":\"" + reason + "\"}";
  return r;
}

TEST(ClassifyApnsResponse, Table) {
  struct Case {
    http::HttpResponse response;
    Outcome::Kind kind;
    bool token_expired;
  };
  http::HttpResponse reset;
  reset.error = http::TransportError::kOther;
  http::HttpResponse timeout;
  timeout.error = http::TransportError::kTimeout;
  http::HttpResponse tls;
  tls.error = http::TransportError::kTls;
  const Case cases[] = {
      {Answer(200), Outcome::Kind::kDelivered, false},
      {Answer(400, "BadDeviceToken"), Outcome::Kind::kRejected, false},
      {Answer(400, "DeviceTokenNotForTopic"), Outcome::Kind::kRejected, false},
      {Answer(400, "TopicDisallowed"), Outcome::Kind::kRejected, false},
      {Answer(410, "Unregistered"), Outcome::Kind::kRejected, false},
      {Answer(410, "ExpiredToken"), Outcome::Kind::kRejected, false},
      {Answer(400, "BadTopic"), Outcome::Kind::kFailed, false},
      {Answer(400, "PayloadEmpty"), Outcome::Kind::kDropped, false},
      {Answer(400), Outcome::Kind::kFailed, false},
      {Answer(403, "ExpiredProviderToken"), Outcome::Kind::kFailed, true},
      {Answer(403, "InvalidProviderToken"), Outcome::Kind::kFailed, false},
      {Answer(403, "BadCertificate"), Outcome::Kind::kFailed, false},
      {Answer(404, "BadPath"), Outcome::Kind::kFailed, false},
      {Answer(413, "PayloadTooLarge"), Outcome::Kind::kDropped, false},
      {Answer(429, "TooManyRequests"), Outcome::Kind::kRetry, false},
      {Answer(500, "InternalServerError"), Outcome::Kind::kRetry, false},
      {Answer(503, "ServiceUnavailable"), Outcome::Kind::kRetry, false},
      {reset, Outcome::Kind::kRetry, false},
      {timeout, Outcome::Kind::kRetry, false},
      {tls, Outcome::Kind::kRetry, false},
  };
  for (const Case& c : cases) {
    ApnsClassification got = ClassifyApnsResponse(c.response, absl::Now());
    EXPECT_EQ(got.outcome.kind, c.kind) << c.response.status << " " << c.response.body;
    EXPECT_EQ(got.provider_token_expired, c.token_expired) << c.response.status << c.response.body;
  }
  EXPECT_EQ(ClassifyApnsResponse(Answer(410, "Unregistered"), absl::Now()).outcome.detail,
            "APNs answered 410 Unregistered");
}

TEST(NewUuid, IsLowerCaseVersion4) {
  std::string a = NewUuid(), b = NewUuid();
  EXPECT_NE(a, b);
  ASSERT_EQ(a.size(), 36u);
  EXPECT_EQ(a[8], '-');
  EXPECT_EQ(a[14], '4');
  for (char c : a) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-');
}

std::string TestKeyFile() {
  std::string dir = std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp";
  std::string path = dir + "/apns-test.p8";
  std::string cmd = "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out '" + path +
                    "' 2>/dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  return path;
}

TEST(ApnsTokenCache, SharedRenewedAfterFiftyMinutesAndWhenExpired) {
  absl::StatusOr<SigningKey> key = SigningKey::FromPemFile(TestKeyFile());
  ASSERT_TRUE(key.ok()) << key.status();
  ApnsTokenCache cache(*key, "KEYID12345", "TEAMID1234");
  absl::Time t0 = absl::FromUnixSeconds(1700000000);
  absl::StatusOr<std::string> first = cache.Get(t0);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(cache.Get(t0 + absl::Minutes(49)), first);
  absl::StatusOr<std::string> second = cache.Get(t0 + absl::Minutes(50));
  EXPECT_NE(second, first);
  EXPECT_EQ(cache.renewals(), 2);
  // A stale token reported expired: retry with the current one, no renewal.
  EXPECT_TRUE(cache.Expired(*first, t0 + absl::Minutes(51)));
  EXPECT_EQ(cache.Get(t0 + absl::Minutes(51)), second);
  // The current one, 1 minute old: renewing would break Apple's 20-minute rule.
  EXPECT_FALSE(cache.Expired(*second, t0 + absl::Minutes(51)));
  EXPECT_EQ(cache.Get(t0 + absl::Minutes(51)), second);
  // 20 minutes old: renewed once, however many pushes report it.
  EXPECT_TRUE(cache.Expired(*second, t0 + absl::Minutes(70)));
  EXPECT_TRUE(cache.Expired(*second, t0 + absl::Minutes(70)));
  absl::StatusOr<std::string> third = cache.Get(t0 + absl::Minutes(70));
  EXPECT_NE(third, second);
  EXPECT_EQ(cache.Get(t0 + absl::Minutes(71)), third);
  EXPECT_EQ(cache.renewals(), 3);
  EXPECT_FALSE(cache.Expired(*third, t0 + absl::Minutes(71)));

  absl::StatusOr<VerifiedJwt> verified = VerifyJwt(*third, key->PublicKeyPem());
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->header_json, R"({"alg":"ES256","kid":"KEYID12345"})");
  EXPECT_EQ(verified->claims_json, absl::StrCat(R"({"iss":"TEAMID1234","iat":)",
                                                absl::ToUnixSeconds(t0 + absl::Minutes(70)), "}"));
}

// Apple refuses the provider token: renewed and sent once more only when
// the token is at least 20 minutes old (Apple's rule), never twice.
TEST(ApnsProviderTest, AnExpiredProviderTokenIsRenewedOnceWithinApplesRule) {
  absl::StatusOr<SigningKey> key = SigningKey::FromPemFile(TestKeyFile());
  ASSERT_TRUE(key.ok()) << key.status();
  auto tokens = std::make_shared<ApnsTokenCache>(*key, "KEYID12345", "TEAMID1234");
  http::FakeHttpClient http;
  ManualClock clock;
  ApnsOptions options;
  options.base_url = "https://apns.example";
  options.topic = "com.example.app";
  ApnsProvider provider("com.example.app", options, tokens, &http, &clock);
  herald::v1::Notification n = SpecNotification();
  herald::v1::Device device;
  device.set_app_id("com.example.app");
  device.set_pushkey("3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
  auto push = [&] {
    Outcome got;
    provider.Push({&n, &device, "test", clock.Monotonic() + absl::Seconds(10), 1},
                  [&](Outcome o) { got = std::move(o); });
    return got;  // the fake answers on the calling thread
  };
  auto bearer = [&](size_t i) {
    const http::HttpRequest request = http.requests().at(i);
    for (const auto& [name, value] : request.headers) {
      if (name == "authorization") return value;
    }
    return std::string();
  };
  const std::string expired = R"({"reason":"ExpiredProviderToken"})";

  // A token a minute old: renewing would break the rule. Failed, one request.
  clock.Advance(absl::Minutes(1));
  http.QueueStatus(403, expired);
  Outcome fresh = push();
  EXPECT_EQ(fresh.kind, Outcome::Kind::kFailed);
  EXPECT_NE(fresh.detail.find("less than 20 minutes old"), std::string::npos) << fresh.detail;
  ASSERT_EQ(http.requests().size(), 1u);

  // 21 minutes later: renewed, sent again with the new token, delivered.
  clock.Advance(absl::Minutes(21));
  http.QueueStatus(403, expired);
  Outcome renewed = push();
  EXPECT_EQ(renewed.kind, Outcome::Kind::kDelivered) << renewed.detail;
  ASSERT_EQ(http.requests().size(), 3u);
  EXPECT_EQ(bearer(1), bearer(0));
  EXPECT_NE(bearer(2), bearer(1));
  EXPECT_EQ(http.requests()[2].url, http.requests()[1].url);
  EXPECT_EQ(http.requests()[2].body, http.requests()[1].body);
  EXPECT_EQ(tokens->renewals(), 2);

  // Refused again and again 21 minutes on: two requests, then failed.
  clock.Advance(absl::Minutes(21));
  http.QueueStatus(403, expired);
  http.QueueStatus(403, expired);
  http.QueueStatus(403, expired);
  Outcome twice = push();
  EXPECT_EQ(twice.kind, Outcome::Kind::kFailed);
  EXPECT_NE(twice.detail.find("for a fresh provider token too"), std::string::npos) << twice.detail;
  EXPECT_EQ(http.requests().size(), 5u);
}

struct OptionsCase {
  std::string yaml;
  std::string error;  // empty: valid
};

TEST(ReadApnsOptions, ChecksKeys) {
  std::string key = TestKeyFile();
  const OptionsCase cases[] = {
      {"{keyfile: K, key_id: A, team_id: B, topic: im.vector.app}", ""},
      {"{keyfile: K, key_id: A, team_id: B, topic: t, platform: sandbox}", ""},
      {"{keyfile: K, key_id: A, team_id: B, topic: t, platform: prod, push_type: voip}", ""},
      {"{keyfile: K, team_id: B, topic: t}", "f.yaml: apps.x.key_id: required with keyfile"},
      {"{keyfile: K, key_id: A, topic: t}", "f.yaml: apps.x.team_id: required with keyfile"},
      {"{keyfile: K, key_id: A, team_id: B}", "f.yaml: apps.x.topic: required with keyfile"},
      {"{topic: t}", "f.yaml: apps.x.keyfile: missing"},
      {"{keyfile: K, certfile: C, key_id: A, team_id: B, topic: t}",
       "f.yaml: apps.x.certfile: give either keyfile"},
      {"{keyfile: K, key_id: A, team_id: B, topic: t, platform: staging}",
       "f.yaml: apps.x.platform: must be production"},
      {"{keyfile: K, key_id: A, team_id: B, topic: t, push_type: loud}",
       "f.yaml: apps.x.push_type: must be one of"},
      {"{certfile: /nonexistent.pem}", "f.yaml: apps.x.certfile: cannot read /nonexistent.pem"},
  };
  for (const OptionsCase& c : cases) {
    std::string yaml = c.yaml;
    size_t at = yaml.find("keyfile: K");
    if (at != std::string::npos) yaml.replace(at, 10, "keyfile: " + key);
    ConfigMap map(YAML::Load(yaml), "f.yaml", "apps.x");
    ApnsOptions o = ReadApnsOptions(map);
    if (c.error.empty()) {
      EXPECT_TRUE(map.status().ok()) << c.yaml << ": " << map.status();
    } else {
      EXPECT_NE(map.status().message().find(c.error), std::string::npos)
          << c.yaml << ": " << map.status();
    }
  }
  ConfigMap sandbox(YAML::Load("{certfile: x, platform: sandbox}"), "f.yaml", "apps.x");
  EXPECT_EQ(ReadApnsOptions(sandbox).base_url, kSandboxUrl);
  ConfigMap prod(YAML::Load("{certfile: x}"), "f.yaml", "apps.x");
  EXPECT_EQ(ReadApnsOptions(prod).base_url, kProductionUrl);
  ConfigMap custom(YAML::Load("{certfile: x, endpoint: 'https://127.0.0.1:8443/'}"), "f.yaml",
                   "apps.x");
  EXPECT_EQ(ReadApnsOptions(custom).base_url, "https://127.0.0.1:8443");
}

}  // namespace
}  // namespace herald::providers::apns

namespace herald::providers::apns {
namespace {

TEST(ApnsTokenCache, SharedByKeyAcrossProviders) {
  std::string path = TestKeyFile();
  absl::StatusOr<SigningKey> a = SigningKey::FromPemFile(path);
  absl::StatusOr<SigningKey> b = SigningKey::FromPemFile(path);
  ASSERT_TRUE(a.ok() && b.ok());
  std::shared_ptr<ApnsTokenCache> one = ApnsTokenCache::Shared(*a, "KEYID12345", "TEAMID1234");
  std::shared_ptr<ApnsTokenCache> same = ApnsTokenCache::Shared(*b, "KEYID12345", "TEAMID1234");
  EXPECT_EQ(one.get(), same.get());
  std::shared_ptr<ApnsTokenCache> other_id = ApnsTokenCache::Shared(*b, "KEYID99999", "TEAMID1234");
  EXPECT_NE(one.get(), other_id.get());
}

// The provider token builder, signed and checked with jws_verify.
TEST(MakeApnsJwtTest, SignsWhatTheServiceExpects) {
  const jose_testing::TestKeys keys;
  ASSERT_NE(keys.ec, nullptr);
  ASSERT_NE(keys.rsa, nullptr);
  using jose_testing::Parts;
  using jose_testing::Split;
  SigningKey key = keys.Ec();
  absl::StatusOr<std::string> jwt = MakeApnsJwt(key, "ABC123DEFG", "DEF123GHIJ", 1700000000);
  ASSERT_TRUE(jwt.ok()) << jwt.status();
  Parts parts = Split(*jwt);
  EXPECT_EQ(parts.header, R"({"alg":"ES256","kid":"ABC123DEFG"})");
  EXPECT_EQ(parts.claims, R"({"iss":"DEF123GHIJ","iat":1700000000})");
  EXPECT_EQ(parts.signature.size(), 64u);
  absl::StatusOr<VerifiedJwt> v = VerifyJwt(*jwt, keys.EcPublicPem());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->header_json, parts.header);
  EXPECT_EQ(v->claims_json, parts.claims);
  // The first part is exactly base64url of the header text.
  EXPECT_TRUE(
      absl::StartsWith(*jwt, Base64UrlEncode(R"({"alg":"ES256","kid":"ABC123DEFG"})") + "."));

  // Escaping is rapidjson's.
  jwt = MakeApnsJwt(key, "K\"1", "T\\2\x01", -5);
  ASSERT_TRUE(jwt.ok()) << jwt.status();
  parts = Split(*jwt);
  EXPECT_EQ(parts.header, R"({"alg":"ES256","kid":"K\"1"})");
  EXPECT_EQ(parts.claims, R"({"iss":"T\\2\u0001","iat":-5})");

  EXPECT_EQ(MakeApnsJwt(keys.Rsa(), "A", "B", 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(MakeApnsJwt(key, "", "B", 1).ok());
  EXPECT_FALSE(MakeApnsJwt(key, "A", "", 1).ok());
  EXPECT_FALSE(MakeApnsJwt(key, "\xff", "B", 1).ok());  // Not UTF-8.
}

}  // namespace
}  // namespace herald::providers::apns
