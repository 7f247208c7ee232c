#include "providers/gcm/gcm_provider.h"

#include <cstdlib>
#include "absl/strings/str_cat.h"

#include "absl/strings/match.h"
#include "common/manual_clock.h"
#include "gtest/gtest.h"
#include "http/fake_http_client.h"
#include "providers/common/jose_testing.h"
#include "providers/common/jws_verify.h"
#include "providers/common/spec_notification.h"

namespace herald::providers::gcm {
namespace {

http::HttpResponse Answer(int status, const std::string& status_text = "",
                          const std::string& error_code = "", const std::string& message = "") {
  http::HttpResponse r;
  r.status = status;
  if (!status_text.empty()) {
    r.body = absl::StrCat(R"({"error":{"code":)", status, R"(,"message":")", message,
                          R"(","status":")", status_text, R"(","details":[{"@type":)",
                          R"("type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":")",
                          error_code, R"("}]}})");
  }
  return r;
}

TEST(ClassifyFcmResponse, Table) {
  struct Case {
    http::HttpResponse response;
    Outcome::Kind kind;
    bool unauthorized;
  };
  http::HttpResponse broken;
  broken.error = http::TransportError::kConnect;
  const Case cases[] = {
      {Answer(200), Outcome::Kind::kDelivered, false},
      {Answer(404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found."),
       Outcome::Kind::kRejected, false},
      // A 404 that is not about the token (e.g. a wrong project id) must not
      // delete every pusher.
      {Answer(404, "NOT_FOUND", "", "Requested entity was not found."), Outcome::Kind::kFailed,
       false},
      {Answer(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT",
              "The registration token is not a valid FCM registration token"),
       Outcome::Kind::kRejected, false},
      {Answer(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Invalid JSON payload received."),
       Outcome::Kind::kDropped, false},
      {Answer(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Message is too big"),
       Outcome::Kind::kDropped, false},
      {Answer(413, "", "", "Request Entity Too Large"), Outcome::Kind::kDropped, false},
      {Answer(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", "x"), Outcome::Kind::kFailed, true},
      {Answer(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "x"), Outcome::Kind::kFailed, false},
      {Answer(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "x"), Outcome::Kind::kRetry, false},
      {Answer(500, "INTERNAL", "INTERNAL", "x"), Outcome::Kind::kRetry, false},
      {Answer(503, "UNAVAILABLE", "UNAVAILABLE", "x"), Outcome::Kind::kRetry, false},
      {Answer(502), Outcome::Kind::kRetry, false},
      {broken, Outcome::Kind::kRetry, false},
  };
  for (const Case& c : cases) {
    FcmClassification got = ClassifyFcmResponse(c.response, absl::Now());
    EXPECT_EQ(got.outcome.kind, c.kind) << c.response.status << " " << c.response.body;
    EXPECT_EQ(got.unauthorized, c.unauthorized) << c.response.status;
  }
}

TEST(ClassifyFcmResponse, RetryAfter) {
  http::HttpResponse r = Answer(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "x");
  r.headers = {{"retry-after", "30"}};
  EXPECT_EQ(ClassifyFcmResponse(r, absl::Now()).outcome.retry_after, absl::Seconds(30));
}

TEST(ReadGcmOptions, ChecksKeys) {
  struct Case {
    std::string yaml;
    std::string error;
  };
  const Case cases[] = {
      {"{api_version: v1, project_id: p, service_account_file: sa.json}", ""},
      {"{api_version: v1, project_id: p}", "f.yaml: apps.x.service_account_file: required"},
      {"{api_version: v1, service_account_file: s}", "f.yaml: apps.x.project_id: required"},
      {"{api_key: AIza}", "f.yaml: apps.x.api_version: the legacy FCM API was shut down"},
      {"{api_version: legacy, project_id: p}", "the legacy FCM API was shut down"},
      {"{api_version: v2, project_id: p, service_account_file: s}",
       "apps.x.api_version: must be v1"},
      {"{api_version: v1, project_id: p, service_account_file: s, fcm_options: 3}",
       "apps.x.fcm_options: must be a mapping"},
  };
  for (const Case& c : cases) {
    ConfigMap map(YAML::Load(c.yaml), "f.yaml", "apps.x");
    ReadGcmOptions(map);
    if (c.error.empty()) {
      EXPECT_TRUE(map.status().ok()) << c.yaml << ": " << map.status();
    } else {
      EXPECT_NE(map.status().message().find(c.error), std::string::npos)
          << c.yaml << ": " << map.status();
    }
  }
  ConfigMap map(YAML::Load("{api_version: v1, project_id: p, service_account_file: s, "
                           "endpoint: 'https://fcm.example/', fcm_options: {android: {ttl: 60s}}}"),
                "f.yaml", "apps.x");
  GcmOptions o = ReadGcmOptions(map);
  EXPECT_EQ(o.endpoint, "https://fcm.example");
  EXPECT_EQ(o.fcm_options_json, R"({"android":{"ttl":"60s"}})");
}

TEST(LoadServiceAccount, Errors) {
  EXPECT_NE(LoadServiceAccount("/nonexistent.json").status().message().find("cannot read"),
            std::string::npos);
}

// FCM refuses the access token (401): a new one is fetched and the message
// sent once more; refused again, the push fails without a third send.
class GcmRenewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp";
    const std::string path = dir + "/fcm-test-rsa.pem";
    ASSERT_EQ(std::system(("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out '" +
                           path + "' 2>/dev/null")
                              .c_str()),
              0);
    absl::StatusOr<SigningKey> key = SigningKey::FromPemFile(path);
    ASSERT_TRUE(key.ok()) << key.status();
    ServiceAccount account;
    account.client_email = "push@example.iam.gserviceaccount.com";
    account.token_uri = "https://oauth.example/token";
    account.key = std::make_shared<SigningKey>(*std::move(key));
    // The token endpoint hands out tok-1, tok-2, ...; the send endpoint
    // answers from `sends_`, then 200.
    http_.SetResponder([this](const http::HttpRequest& r) {
      if (r.url == "https://oauth.example/token") {
        return http::StatusResponse(200,
                                    absl::StrCat(R"({"access_token":"tok-)", ++tokens_issued_,
                                                 R"(","expires_in":3600,"token_type":"Bearer"})"));
      }
      if (sends_.empty()) return http::StatusResponse(200, R"({"name":"projects/p/messages/1"})");
      http::HttpResponse next = sends_.front();
      sends_.erase(sends_.begin());
      return next;
    });
    GcmOptions options;
    options.endpoint = "https://fcm.example";
    options.project_id = "p";
    provider_ = std::make_unique<GcmProvider>(
        "com.example.android", options,
        std::make_unique<AccessTokenSource>(std::move(account), &http_, "", absl::Seconds(5),
                                            nullptr, &clock_),
        &http_, &clock_);
  }

  Outcome Push() {
    herald::v1::Notification n = SpecNotification();
    herald::v1::Device device;
    device.set_app_id("com.example.android");
    device.set_pushkey("fcm-registration-token");
    Outcome got;
    provider_->Push({&n, &device, "test", clock_.Monotonic() + absl::Seconds(10), 1},
                    [&](Outcome o) { got = std::move(o); });
    return got;
  }

  // "token" or the bearer token of each request, in order.
  std::vector<std::string> Sent() {
    std::vector<std::string> sent;
    for (const http::HttpRequest& r : http_.requests()) {
      std::string what = "token";
      for (const auto& [name, value] : r.headers) {
        if (name == "Authorization") what = value;
      }
      sent.push_back(what);
    }
    return sent;
  }

  http::FakeHttpClient http_;
  ManualClock clock_;
  int tokens_issued_ = 0;
  std::vector<http::HttpResponse> sends_;
  std::unique_ptr<GcmProvider> provider_;
};

TEST_F(GcmRenewTest, ARefusedTokenIsReplacedAndTheMessageSentOnceMore) {
  sends_.push_back(Answer(401, "UNAUTHENTICATED"));
  Outcome o = Push();
  EXPECT_EQ(o.kind, Outcome::Kind::kDelivered) << o.detail;
  EXPECT_EQ(Sent(), (std::vector<std::string>{"token", "Bearer tok-1", "token", "Bearer tok-2"}));
  // The new token is kept for the next push.
  EXPECT_EQ(Push().kind, Outcome::Kind::kDelivered);
  EXPECT_EQ(Sent().back(), "Bearer tok-2");
}

TEST_F(GcmRenewTest, RefusedTwiceFailsWithoutAThirdSend) {
  sends_ = {Answer(401, "UNAUTHENTICATED"), Answer(401, "UNAUTHENTICATED"),
            Answer(401, "UNAUTHENTICATED")};
  Outcome o = Push();
  EXPECT_EQ(o.kind, Outcome::Kind::kFailed);
  EXPECT_EQ(Sent(), (std::vector<std::string>{"token", "Bearer tok-1", "token", "Bearer tok-2"}));
}

// The provider token builder, signed and checked with jws_verify.
TEST(MakeGoogleOAuthJwtTest, SignsWhatTheServiceExpects) {
  const jose_testing::TestKeys keys;
  ASSERT_NE(keys.ec, nullptr);
  ASSERT_NE(keys.rsa, nullptr);
  using jose_testing::Parts;
  using jose_testing::Split;
  SigningKey key = keys.Rsa();
  absl::StatusOr<std::string> jwt =
      MakeGoogleOAuthJwt(key, "herald@proj.iam.gserviceaccount.com",
                         "https://www.googleapis.com/auth/firebase.messaging",
                         "https://oauth2.googleapis.com/token", 1700000000, 1700003600);
  ASSERT_TRUE(jwt.ok()) << jwt.status();
  Parts parts = Split(*jwt);
  EXPECT_EQ(parts.header, R"({"alg":"RS256","typ":"JWT"})");
  EXPECT_EQ(parts.claims,
            R"({"iss":"herald@proj.iam.gserviceaccount.com",)"
            R"("scope":"https://www.googleapis.com/auth/firebase.messaging",)"
            R"("aud":"https://oauth2.googleapis.com/token","iat":1700000000,"exp":1700003600})");
  EXPECT_EQ(parts.signature.size(), 256u);
  EXPECT_TRUE(VerifyJwt(*jwt, keys.RsaPublicPem()).ok());

  const auto make = [&](const SigningKey& k, int64_t iat, int64_t exp) {
    return MakeGoogleOAuthJwt(k, "e@x", "s", "https://t", iat, exp).status().code();
  };
  EXPECT_EQ(make(key, 100, 3700), absl::StatusCode::kOk);
  EXPECT_EQ(make(key, 100, 3701), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(make(key, 100, 100), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(make(keys.Ec(), 100, 200), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(MakeGoogleOAuthJwt(key, "", "s", "t", 1, 2).ok());
  EXPECT_FALSE(MakeGoogleOAuthJwt(key, "e", "", "t", 1, 2).ok());
  EXPECT_FALSE(MakeGoogleOAuthJwt(key, "e", "s", "", 1, 2).ok());
}

}  // namespace
}  // namespace herald::providers::gcm
