#include "providers/common/encoding.h"
#include "providers/common/jose_testing.h"
#include "providers/common/jws.h"
#include "providers/common/jws_verify.h"
#include "providers/common/signing_key.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace herald::providers {
namespace {

using namespace ::herald::providers::jose_testing;  // NOLINT: test helpers
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// ---------------------------------------------------------------------------
// Helpers (test-only OpenSSL plumbing).

// "BEGIN EC PRIVATE KEY" / "BEGIN RSA PRIVATE KEY".
std::string TraditionalPem(EVP_PKEY* key, const EVP_CIPHER* cipher = nullptr) {
  Bio bio(BIO_new(BIO_s_mem()));
  unsigned char pass[] = "secret";
  EXPECT_EQ(PEM_write_bio_PrivateKey_traditional(bio.get(), key, cipher, cipher ? pass : nullptr,
                                                 cipher ? 6 : 0, nullptr, nullptr),
            1);
  return BioText(bio.get());
}

std::string PemBlock(const char* name, const std::string& der) {
  Bio bio(BIO_new(BIO_s_mem()));
  EXPECT_GT(PEM_write_bio(bio.get(), name, "", reinterpret_cast<const unsigned char*>(der.data()),
                          static_cast<long>(der.size())),
            0);
  return BioText(bio.get());
}

std::string TmpPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

void WriteFile(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(std::fwrite(text.data(), 1, text.size(), f), text.size());
  ASSERT_EQ(std::fclose(f), 0);
}

// Replaces the character at `pos` of `s` with a different base64url character
// that keeps the encoding canonical when `pos` is not the last character.
std::string FlipChar(std::string s, size_t pos) {
  s[pos] = s[pos] == 'A' ? 'B' : 'A';
  return s;
}

// Keys shared by the tests (RSA generation is slow, under valgrind especially).
class JwtTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ec_ = GenEc("P-256").release();
    ec2_ = GenEc("P-256").release();
    rsa_ = GenRsa(2048).release();
    ASSERT_NE(ec_, nullptr);
    ASSERT_NE(ec2_, nullptr);
    ASSERT_NE(rsa_, nullptr);
  }
  static void TearDownTestSuite() {
    EVP_PKEY_free(ec_);
    EVP_PKEY_free(ec2_);
    EVP_PKEY_free(rsa_);
    ec_ = ec2_ = rsa_ = nullptr;
  }
  void TearDown() override {
    // Nothing in the library may leave errors behind.
    EXPECT_EQ(ERR_peek_error(), 0u);
  }

  static SigningKey EcKey() { return FromPemOrDie(Pkcs8Pem(ec_)); }
  static SigningKey RsaKey() { return FromPemOrDie(Pkcs8Pem(rsa_)); }
  static SigningKey FromPemOrDie(const std::string& pem) {
    absl::StatusOr<SigningKey> key = SigningKey::FromPem(pem);
    EXPECT_TRUE(key.ok()) << key.status();
    return *std::move(key);
  }

  static EVP_PKEY* ec_;
  static EVP_PKEY* ec2_;
  static EVP_PKEY* rsa_;
};
EVP_PKEY* JwtTest::ec_ = nullptr;
EVP_PKEY* JwtTest::ec2_ = nullptr;
EVP_PKEY* JwtTest::rsa_ = nullptr;

// ---------------------------------------------------------------------------
// Encodings.

TEST(Base64Test, Rfc4648Vectors) {
  const std::pair<const char*, const char*> kVectors[] = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : kVectors) {
    EXPECT_EQ(Base64UrlEncode(plain), encoded);
    EXPECT_EQ(Base64UrlDecode(encoded), plain);
    EXPECT_EQ(Base64Decode(encoded), plain);
  }
  EXPECT_EQ(Base64UrlDecode("Zg=="), "f");
  EXPECT_EQ(Base64UrlDecode("Zm8="), "fo");
  EXPECT_EQ(Base64Decode("Zm9vYmE="), "fooba");
}

TEST(Base64Test, AlphabetsDiffer) {
  const std::string bytes("\xfb\xff\xbf", 3);
  EXPECT_EQ(Base64UrlEncode(bytes), "-_-_");
  EXPECT_EQ(Base64UrlDecode("-_-_"), bytes);
  EXPECT_EQ(Base64Decode("+/+/"), bytes);
  EXPECT_EQ(Base64UrlDecode("+/+/"), std::nullopt);
  EXPECT_EQ(Base64Decode("-_-_"), std::nullopt);
  EXPECT_EQ(Base64Decode("+/8="), std::string("\xfb\xff", 2));
  EXPECT_EQ(Base64Decode("+/8"), std::string("\xfb\xff", 2));
}

TEST(Base64Test, RoundTripsAllLengthsAndBytes) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t len = 0; len <= all.size(); ++len) {
    const std::string bytes = all.substr(256 - len);
    const std::string enc = Base64UrlEncode(bytes);
    EXPECT_EQ(enc.find('='), std::string::npos);
    EXPECT_EQ(Base64UrlDecode(enc), bytes) << len;
    std::string padded = enc;
    while (padded.size() % 4 != 0) padded.push_back('=');
    EXPECT_EQ(Base64UrlDecode(padded), bytes) << len;
    std::string standard = padded;
    for (char& c : standard) c = c == '-' ? '+' : c == '_' ? '/' : c;
    EXPECT_EQ(Base64Decode(standard), bytes) << len;
  }
}

TEST(Base64Test, RejectsInvalidInput) {
  for (const char* bad : {
           "Z",       // a lone character cannot encode a byte
           "Zm9vY",   // same, after full quanta
           "Zg=",     // incomplete padding
           "Zg===",   // too much padding
           "Zm9v=",   // padding after a complete quantum
           "====",    //
           "=",       //
           "Z=g=",    // padding in the middle
           "Zh",      // non-zero unused bits (non-canonical)
           "Zm9=",    // non-zero unused bits with padding
           "Zm 9v",   // whitespace
           "Zm9v\n",  //
           "Zm9v.",   //
           "Zm9v*",   //
       }) {
    EXPECT_EQ(Base64UrlDecode(bad), std::nullopt) << bad;
    EXPECT_EQ(Base64Decode(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(Base64UrlDecode(std::string("Zm\0v", 4)), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("\xc3\xa9"), std::nullopt);
}

TEST(HexTest, Lowercase) {
  EXPECT_EQ(HexEncode(""), "");
  EXPECT_EQ(HexEncode(std::string("\x00\x01\xab\xff\x7f", 5)), "0001abff7f");
}

// ---------------------------------------------------------------------------
// Loading keys.

TEST_F(JwtTest, LoadsEcPkcs8AndSec1) {
  const std::string pkcs8 = Pkcs8Pem(ec_);
  const std::string sec1 = TraditionalPem(ec_);
  ASSERT_THAT(pkcs8, HasSubstr("-----BEGIN PRIVATE KEY-----"));
  ASSERT_THAT(sec1, HasSubstr("-----BEGIN EC PRIVATE KEY-----"));

  unsigned char pub[65];
  size_t pub_len = 0;
  ASSERT_EQ(
      EVP_PKEY_get_octet_string_param(ec_, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub), &pub_len), 1);
  const std::string expected_point(reinterpret_cast<char*>(pub), pub_len);
  ASSERT_EQ(expected_point.size(), 65u);
  ASSERT_EQ(expected_point[0], '\x04');

  // An "EC PARAMETERS" block first, as `openssl ecparam -genkey` writes.
  const std::string with_params =
      "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" + sec1;
  for (const std::string& pem : {pkcs8, sec1, with_params}) {
    SigningKey key = FromPemOrDie(pem);
    EXPECT_TRUE(key.is_ec_p256());
    EXPECT_FALSE(key.is_rsa());
    EXPECT_EQ(key.jws_algorithm(), "ES256");
    EXPECT_EQ(key.PublicKeyUncompressed(), expected_point);
    EXPECT_EQ(key.PublicKeyPem(), PublicPem(ec_));
    EXPECT_NE(key.get(), nullptr);
  }
}

TEST_F(JwtTest, LoadsRsaPkcs8AndPkcs1) {
  const std::string pkcs1 = TraditionalPem(rsa_);
  ASSERT_THAT(pkcs1, HasSubstr("-----BEGIN RSA PRIVATE KEY-----"));
  for (const std::string& pem : {Pkcs8Pem(rsa_), pkcs1}) {
    SigningKey key = FromPemOrDie(pem);
    EXPECT_TRUE(key.is_rsa());
    EXPECT_FALSE(key.is_ec_p256());
    EXPECT_EQ(key.jws_algorithm(), "RS256");
    EXPECT_EQ(key.PublicKeyUncompressed(), "");
    EXPECT_EQ(key.PublicKeyPem(), PublicPem(rsa_));
  }
}

TEST_F(JwtTest, LoadsFromFile) {
  const std::string ec_path = TmpPath("ec_p256.p8");
  const std::string rsa_path = TmpPath("rsa.pem");
  WriteFile(ec_path, Pkcs8Pem(ec_));
  WriteFile(rsa_path, TraditionalPem(rsa_));
  absl::StatusOr<SigningKey> ec = SigningKey::FromPemFile(ec_path);
  ASSERT_TRUE(ec.ok()) << ec.status();
  EXPECT_TRUE(ec->is_ec_p256());
  absl::StatusOr<SigningKey> rsa = SigningKey::FromPemFile(rsa_path);
  ASSERT_TRUE(rsa.ok()) << rsa.status();
  EXPECT_TRUE(rsa->is_rsa());

  const std::string missing = TmpPath("does-not-exist.p8");
  absl::StatusOr<SigningKey> none = SigningKey::FromPemFile(missing);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(none.status().message()), StartsWith("cannot read " + missing));

  absl::StatusOr<SigningKey> dir = SigningKey::FromPemFile(TmpPath(""));
  EXPECT_THAT(std::string(dir.status().message()), StartsWith("cannot read "));

  const std::string pub_path = TmpPath("public.pem");
  WriteFile(pub_path, PublicPem(ec_));
  absl::StatusOr<SigningKey> pub = SigningKey::FromPemFile(pub_path);
  EXPECT_EQ(pub.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(pub.status().message()), StartsWith(pub_path + ": "));
  EXPECT_THAT(std::string(pub.status().message()), HasSubstr("public key"));
}

TEST_F(JwtTest, FromPemErrors) {
  struct Case {
    std::string pem;
    std::string reason;
  };
  Pkey p384 = GenEc("P-384");
  Pkey rsa1024 = GenRsa(1024);
  Pkey ed25519(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_TRUE(p384 && rsa1024 && ed25519);
  std::string encrypted_pkcs8;
  {
    Bio bio(BIO_new(BIO_s_mem()));
    ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio.get(), ec_, EVP_aes_256_cbc(), "secret", 6, nullptr,
                                            nullptr),
              1);
    encrypted_pkcs8 = BioText(bio.get());
  }
  const std::vector<Case> cases = {
      {"", "not PEM"},
      {"hello, world", "not PEM"},
      {"{\"type\": \"service_account\"}", "not PEM"},
      {"-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n", "malformed PEM"},
      {"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "cannot parse"},
      {PublicPem(ec_), "public key"},
      {PublicPem(rsa_), "public key"},
      {Pkcs8Pem(p384.get()), "not P-256"},
      {TraditionalPem(p384.get()), "not P-256"},
      {Pkcs8Pem(rsa1024.get()), "at least 2048"},
      {Pkcs8Pem(ed25519.get()), "unsupported key type"},
      {encrypted_pkcs8, "encrypted"},
      {TraditionalPem(ec_, EVP_aes_128_cbc()), "encrypted"},
      {"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n",
       "no private key"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<SigningKey> key = SigningKey::FromPem(c.pem);
    ASSERT_FALSE(key.ok()) << c.pem;
    EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument) << c.pem;
    EXPECT_THAT(std::string(key.status().message()), HasSubstr(c.reason)) << c.pem;
    EXPECT_EQ(ERR_peek_error(), 0u) << c.pem;
  }
}

// RFC 7515 appendix A.3 key (P-256).
constexpr char kA3X[] = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
constexpr char kA3Y[] = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
constexpr char kA3D[] = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";

// SEC1 ECPrivateKey DER with the given scalar and public point.
std::string Sec1Der(const std::string& d, const std::string& point) {
  std::string der("\x30\x77\x02\x01\x01\x04\x20", 7);
  der += d;
  der += std::string("\xa0\x0a\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07\xa1\x44\x03\x42\x00", 17);
  der += point;
  return der;
}

TEST_F(JwtTest, Sec1KnownKeyAndMismatchedPublicPoint) {
  const std::string d = B64u(kA3D);
  const std::string point = "\x04" + B64u(kA3X) + B64u(kA3Y);
  SigningKey key = FromPemOrDie(PemBlock("EC PRIVATE KEY", Sec1Der(d, point)));
  EXPECT_EQ(key.PublicKeyUncompressed(), point);

  // Same scalar, someone else's public point: rejected, and the message holds
  // no key material.
  const std::string other = B64u(
      "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8");
  const std::string pem = PemBlock("EC PRIVATE KEY", Sec1Der(d, other));
  absl::StatusOr<SigningKey> bad = SigningKey::FromPem(pem);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(bad.status().message());
  EXPECT_THAT(message, Not(HasSubstr(kA3D)));
  EXPECT_THAT(message, Not(HasSubstr(HexEncode(d).substr(0, 16))));
  for (absl::string_view line : absl::StrSplit(pem, '\n')) {
    if (line.size() >= 16 && !absl::StartsWith(line, "-----")) {
      EXPECT_THAT(message, Not(HasSubstr(line.substr(0, 16))));
    }
  }
}

TEST(P256ScalarTest, Rfc8291ApplicationServerKey) {
  absl::StatusOr<SigningKey> key =
      SigningKey::FromP256PrivateScalar(B64u("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_TRUE(key->is_ec_p256());
  EXPECT_EQ(key->PublicKeyUncompressed(),
            B64u("BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6P"
                 "Bru3jl7A8"));
  EXPECT_THAT(key->PublicKeyPem(), StartsWith("-----BEGIN PUBLIC KEY-----\n"));
  // The key signs, and the result verifies against its public PEM.
  absl::StatusOr<std::string> jwt =
      SignJwt(*key, R"({"typ":"JWT","alg":"ES256"})", R"({"aud":"https://push.example.net"})");
  ASSERT_TRUE(jwt.ok()) << jwt.status();
  EXPECT_TRUE(VerifyJwt(*jwt, key->PublicKeyPem()).ok());
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(P256ScalarTest, RejectsBadScalars) {
  const std::string n = B64u("_____wAAAAD__________7zm-q2nF56E87nKwvxjJVE");  // Group order.
  const std::string n_minus_1 = B64u("_____wAAAAD__________7zm-q2nF56E87nKwvxjJVA");
  for (const std::string& bad : {std::string(), std::string(31, '\x01'), std::string(33, '\x01'),
                                 std::string(32, '\0'), n, std::string(32, '\xff')}) {
    absl::StatusOr<SigningKey> key = SigningKey::FromP256PrivateScalar(bad);
    EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument) << HexEncode(bad);
  }
  EXPECT_TRUE(SigningKey::FromP256PrivateScalar(n_minus_1).ok());
  EXPECT_TRUE(SigningKey::FromP256PrivateScalar(std::string(31, '\0') + "\x01").ok());
  EXPECT_EQ(ERR_peek_error(), 0u);
}

// ---------------------------------------------------------------------------
// Signing and verifying.

TEST(VerifyTest, Rfc7515AppendixA3) {
  absl::StatusOr<SigningKey> key = SigningKey::FromP256PrivateScalar(B64u(kA3D));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->PublicKeyUncompressed(), "\x04" + B64u(kA3X) + B64u(kA3Y));
  const std::string jws =
      "eyJhbGciOiJFUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
      "fQ."
      "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
  absl::StatusOr<VerifiedJwt> v = VerifyJwt(jws, key->PublicKeyPem());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->header_json, R"({"alg":"ES256"})");
  EXPECT_EQ(v->claims_json,
            "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}");
  // One bit off in s.
  EXPECT_EQ(VerifyJwt(FlipChar(jws, jws.size() - 10), key->PublicKeyPem()).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(JwtTest, Es256RoundTrip) {
  SigningKey key = EcKey();
  const std::string pub = PublicPem(ec_);
  // Many signatures, so that r or s with leading zero bytes (left padding)
  // are very likely exercised.
  for (int i = 0; i < 400; ++i) {
    const std::string claims = absl::StrCat(R"({"n":)", i, "}");
    absl::StatusOr<std::string> jwt = SignJwt(key, R"({"alg":"ES256"})", claims);
    ASSERT_TRUE(jwt.ok()) << jwt.status();
    Parts parts = Split(*jwt);
    ASSERT_EQ(parts.signature.size(), 64u);
    absl::StatusOr<VerifiedJwt> v = VerifyJwt(*jwt, pub);
    ASSERT_TRUE(v.ok()) << v.status() << " at " << i;
    EXPECT_EQ(v->header_json, R"({"alg":"ES256"})");
    EXPECT_EQ(v->claims_json, claims);
  }
  // The private key PEM works as the verification key too.
  absl::StatusOr<std::string> jwt = SignJwt(key, R"({"alg":"ES256","typ":"JWT"})", "{}");
  ASSERT_TRUE(jwt.ok());
  EXPECT_TRUE(VerifyJwt(*jwt, Pkcs8Pem(ec_)).ok());
  EXPECT_TRUE(VerifyJwt(*jwt, TraditionalPem(ec_)).ok());
  EXPECT_TRUE(VerifyJwt(*jwt, key.PublicKeyPem()).ok());
}

TEST_F(JwtTest, Rs256RoundTripIsDeterministicPkcs1) {
  SigningKey key = RsaKey();
  const std::string header = R"({"alg":"RS256","typ":"JWT"})";
  const std::string claims = R"({"iss":"a@b.c","iat":1})";
  absl::StatusOr<std::string> a = SignJwt(key, header, claims);
  absl::StatusOr<std::string> b = SignJwt(key, header, claims);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*a, *b);  // PKCS#1 v1.5 is deterministic (PSS would not be).
  EXPECT_EQ(Split(*a).signature.size(), 256u);
  absl::StatusOr<VerifiedJwt> v = VerifyJwt(*a, PublicPem(rsa_));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->header_json, header);
  EXPECT_EQ(v->claims_json, claims);

  // Independently: RSASSA-PKCS1-v1_5 SHA-256 over the signing input.
  const std::string input = a->substr(0, a->rfind('.'));
  const std::string sig = Split(*a).signature;
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  ASSERT_EQ(EVP_DigestVerifyInit(md.get(), &pctx, EVP_sha256(), nullptr, rsa_), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING), 1);
  EXPECT_EQ(
      EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()),
      1);
}

TEST_F(JwtTest, TamperingFails) {
  for (bool ec : {true, false}) {
    SigningKey key = ec ? EcKey() : RsaKey();
    const std::string pub = PublicPem(ec ? ec_ : rsa_);
    const std::string header = ec ? R"({"alg":"ES256"})" : R"({"alg":"RS256"})";
    absl::StatusOr<std::string> jwt = SignJwt(key, header, R"({"iss":"joe","iat":100})");
    ASSERT_TRUE(jwt.ok()) << jwt.status();
    ASSERT_TRUE(VerifyJwt(*jwt, pub).ok());
    std::vector<std::string> parts = absl::StrSplit(*jwt, '.');

    // Another payload under the same signature.
    const std::string other_claims =
        absl::StrCat(parts[0], ".", Base64UrlEncode(R"({"iss":"joe","iat":101})"), ".", parts[2]);
    EXPECT_EQ(VerifyJwt(other_claims, pub).status().code(), absl::StatusCode::kUnauthenticated);
    // Another header.
    const std::string other_header =
        absl::StrCat(Base64UrlEncode(header.substr(0, header.size() - 1) + R"(,"typ":"JWT"})"), ".",
                     parts[1], ".", parts[2]);
    EXPECT_EQ(VerifyJwt(other_header, pub).status().code(), absl::StatusCode::kUnauthenticated);
    // Signature bytes changed (first, middle).
    EXPECT_EQ(VerifyJwt(FlipChar(*jwt, jwt->rfind('.') + 1), pub).status().code(),
              absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(VerifyJwt(FlipChar(*jwt, jwt->size() - 20), pub).status().code(),
              absl::StatusCode::kUnauthenticated);
    // Signature truncated / empty / missing.
    EXPECT_FALSE(VerifyJwt(jwt->substr(0, jwt->size() - 4), pub).ok());
    EXPECT_FALSE(VerifyJwt(absl::StrCat(parts[0], ".", parts[1], "."), pub).ok());
    EXPECT_EQ(VerifyJwt(absl::StrCat(parts[0], ".", parts[1]), pub).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(VerifyJwt(*jwt + ".x", pub).status().code(), absl::StatusCode::kInvalidArgument);
    // Wrong key of the same type; key of the other type.
    if (ec) {
      EXPECT_EQ(VerifyJwt(*jwt, PublicPem(ec2_)).status().code(),
                absl::StatusCode::kUnauthenticated);
    }
    EXPECT_FALSE(VerifyJwt(*jwt, PublicPem(ec ? rsa_ : ec_)).ok());
    // Not a key at all.
    EXPECT_EQ(VerifyJwt(*jwt, "nope").status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST_F(JwtTest, VerifyRejectsUnsafeHeaders) {
  SigningKey key = EcKey();
  const std::string pub = PublicPem(ec_);
  const std::string claims = Base64UrlEncode("{}");
  // alg "none" with an empty signature.
  EXPECT_FALSE(
      VerifyJwt(absl::StrCat(Base64UrlEncode(R"({"alg":"none"})"), ".", claims, "."), pub).ok());
  // Validly signed, but headers we refuse.
  const std::string bad_headers[] = {
      R"({"alg":"ES256","crit":["exp"],"exp":1})",
  };
  for (const std::string& header : bad_headers) {
    absl::StatusOr<std::string> jwt = SignJwt(key, header, "{}");
    ASSERT_TRUE(jwt.ok()) << jwt.status();
    EXPECT_EQ(VerifyJwt(*jwt, pub).status().code(), absl::StatusCode::kInvalidArgument) << header;
  }
  // Claims that are not a JSON object.
  absl::StatusOr<std::string> jwt = SignJwt(key, R"({"alg":"ES256"})", "not json");
  ASSERT_TRUE(jwt.ok());
  EXPECT_EQ(VerifyJwt(*jwt, pub).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(JwtTest, SignChecksHeaderAlg) {
  SigningKey ec = EcKey();
  SigningKey rsa = RsaKey();
  EXPECT_EQ(SignJwt(ec, R"({"alg":"RS256"})", "{}").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SignJwt(rsa, R"({"alg":"ES256"})", "{}").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(SignJwt(ec, R"({"typ":"JWT"})", "{}").ok());
  EXPECT_FALSE(SignJwt(ec, "not json", "{}").ok());
  EXPECT_FALSE(SignJwt(ec, R"({"alg":"ES256","alg":"none"})", "{}").ok());
  EXPECT_FALSE(SignJwt(ec, R"(["alg","ES256"])", "{}").ok());
}

TEST_F(JwtTest, KeysAreCopyable) {
  std::optional<SigningKey> copy;
  {
    SigningKey original = EcKey();
    copy = original;
  }
  absl::StatusOr<std::string> jwt = SignJwt(*copy, R"({"alg":"ES256"})", "{}");
  ASSERT_TRUE(jwt.ok());
  EXPECT_TRUE(VerifyJwt(*jwt, copy->PublicKeyPem()).ok());
}

// ---------------------------------------------------------------------------
TEST(Base64DecodeAnyAlphabet, TakesWhatClientsSend) {
  // 0xfb 0xff: "+/8" in standard base64, "-_8" URL-safe.
  const std::string bytes("\xfb\xff", 2);
  for (const char* text : {"+/8=", "+/8", "-_8=", "-_8", "+_8"}) {
    EXPECT_EQ(Base64DecodeAnyAlphabet(text), bytes) << text;
  }
  // Non-zero unused trailing bits are ignored here, as Python's base64 does.
  EXPECT_EQ(Base64DecodeAnyAlphabet("+/9"), bytes);
  EXPECT_EQ(Base64UrlDecode("-_9"), std::nullopt);  // the strict decoders stay strict
  // Whitespace, stray characters and broken padding are refused here too,
  // although Abseil's decoder (underneath) would skip whitespace.
  for (const char* bad : {"+/8==", "+/8=x", "+ /8", "A", "+/8!", "+/8\n", "\t+/8", "+/8=\n",
                          "Zg=", "Z=g=", "====", "=", "Zm9vY", "Zm9v=", "+/8."}) {
    EXPECT_EQ(Base64DecodeAnyAlphabet(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(Base64DecodeAnyAlphabet(std::string("+/\08", 4)), std::nullopt);
  EXPECT_EQ(Base64DecodeAnyAlphabet(""), "");
}

}  // namespace
}  // namespace herald::providers
