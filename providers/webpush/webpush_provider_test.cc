#include "providers/webpush/webpush_provider.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "providers/common/jose_testing.h"
#include "providers/common/jws_verify.h"

namespace herald::providers::webpush {
namespace {

http::HttpResponse Answer(int status) {
  http::HttpResponse r;
  r.status = status;
  return r;
}

TEST(ClassifyWebPushResponse, Table) {
  http::HttpResponse refused;
  refused.error = http::TransportError::kRefusedAddress;
  http::HttpResponse timeout;
  timeout.error = http::TransportError::kTimeout;
  struct Case {
    http::HttpResponse response;
    Outcome::Kind kind;
  };
  const Case cases[] = {
      {Answer(201), Outcome::Kind::kDelivered}, {Answer(200), Outcome::Kind::kDelivered},
      {Answer(404), Outcome::Kind::kRejected},  {Answer(410), Outcome::Kind::kRejected},
      {Answer(400), Outcome::Kind::kDropped},   {Answer(401), Outcome::Kind::kFailed},
      {Answer(403), Outcome::Kind::kFailed},    {Answer(413), Outcome::Kind::kDropped},
      {Answer(429), Outcome::Kind::kRetry},     {Answer(500), Outcome::Kind::kRetry},
      {Answer(503), Outcome::Kind::kRetry},     {timeout, Outcome::Kind::kRetry},
      {refused, Outcome::Kind::kSkipped},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ClassifyWebPushResponse(c.response, absl::Now()).kind, c.kind)
        << c.response.status << " " << http::TransportErrorName(c.response.error);
  }
}

TEST(VapidTokens, ReusedPerOriginUntilNearExpiry) {
  std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/vapid.pem";
  ASSERT_EQ(std::system(("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out '" +
                         path + "'")
                            .c_str()),
            0);
  absl::StatusOr<SigningKey> key = SigningKey::FromPemFile(path);
  ASSERT_TRUE(key.ok());
  VapidTokens tokens(*key, "mailto:ops@example.org");
  absl::Time t0 = absl::FromUnixSeconds(1700000000);
  absl::StatusOr<std::string> first = tokens.AuthorizationFor("https://push.example.org", t0);
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string a = *first;
  ASSERT_EQ(a.rfind("vapid t=", 0), 0u) << a;
  EXPECT_NE(a.find(", k=" + tokens.public_key_b64url()), std::string::npos);
  EXPECT_EQ(*tokens.AuthorizationFor("https://push.example.org", t0 + absl::Hours(10)), a);
  EXPECT_NE(*tokens.AuthorizationFor("https://push.example.org", t0 + absl::Hours(11)), a);
  EXPECT_NE(*tokens.AuthorizationFor("https://other.example.org", t0), a);

  std::string jwt = a.substr(8, a.find(',') - 8);
  absl::StatusOr<VerifiedJwt> v = VerifyJwt(jwt, key->PublicKeyPem());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(
      v->claims_json,
      R"({"aud":"https://push.example.org","exp":1700043200,"sub":"mailto:ops@example.org"})");
}

TEST(ReadWebPushOptions, ChecksKeys) {
  ConfigMap missing(YAML::Load("{ttl: 60}"), "f.yaml", "apps.w");
  ReadWebPushOptions(missing);
  EXPECT_EQ(missing.status().message(),
            "f.yaml: apps.w.vapid_private_key: required: path to a PEM EC P-256 private key");
  ConfigMap ok(YAML::Load("{vapid_private_key: k.pem, vapid_contact_email: a@b.c, "
                          "allowed_endpoints: ['*.mozilla.com'], events_only: true}"),
               "f.yaml", "apps.w");
  WebPushOptions o = ReadWebPushOptions(ok);
  EXPECT_TRUE(ok.status().ok()) << ok.status();
  EXPECT_EQ(o.ttl_seconds, 900);
  EXPECT_TRUE(o.events_only);
  EXPECT_FALSE(o.allow_private_addresses);
}

// The provider token builder, signed and checked with jws_verify.
TEST(MakeVapidJwtTest, SignsWhatTheServiceExpects) {
  const jose_testing::TestKeys keys;
  ASSERT_NE(keys.ec, nullptr);
  ASSERT_NE(keys.rsa, nullptr);
  using jose_testing::Parts;
  using jose_testing::Split;
  SigningKey key = keys.Ec();
  absl::StatusOr<std::string> jwt = MakeVapidJwt(key, "https://updates.push.services.mozilla.com",
                                                 1700086400, "mailto:admin@example.org");
  ASSERT_TRUE(jwt.ok()) << jwt.status();
  Parts parts = Split(*jwt);
  EXPECT_EQ(parts.header, R"({"typ":"JWT","alg":"ES256"})");
  EXPECT_EQ(parts.claims, R"({"aud":"https://updates.push.services.mozilla.com","exp":1700086400,)"
                          R"("sub":"mailto:admin@example.org"})");
  EXPECT_EQ(parts.signature.size(), 64u);
  EXPECT_TRUE(VerifyJwt(*jwt, keys.EcPublicPem()).ok());
  EXPECT_FALSE(MakeVapidJwt(keys.Rsa(), "https://a", 1, "mailto:b").ok());
  EXPECT_FALSE(MakeVapidJwt(key, "", 1, "mailto:b").ok());
  EXPECT_FALSE(MakeVapidJwt(key, "https://a", 1, "").ok());
}

}  // namespace
}  // namespace herald::providers::webpush
