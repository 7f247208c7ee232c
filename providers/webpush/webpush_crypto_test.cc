#include "providers/webpush/webpush_crypto.h"

#include <openssl/err.h>
#include <openssl/rand.h>

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "providers/common/encoding.h"
#include "providers/common/signing_key.h"

namespace herald::providers::webpush {
namespace {

using ::testing::HasSubstr;

// RFC 8291 appendix A (base64url).
constexpr char kPlaintext[] = "V2hlbiBJIGdyb3cgdXAsIEkgd2FudCB0byBiZSBhIHdhdGVybWVsb24";
constexpr char kAsPrivate[] = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
constexpr char kAsPublic[] =
    "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
constexpr char kUaPrivate[] = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
constexpr char kUaPublic[] =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
constexpr char kSalt[] = "DGv6ra1nlYgDCS1FRnbzlw";
constexpr char kAuth[] = "BTBZMqHH6r4Tts7J_aSIgg";
constexpr char kEcdhSecret[] = "kyrL1jIIOHEzg3sM2ZWRHDRB62YACZhhSlknJ672kSs";
constexpr char kCek[] = "oIhVW04MRdy2XN9CiKLxTg";
constexpr char kNonce[] = "4h_95klXJ5E_qnoN";
constexpr char kBody[] =
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6"
    "TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_"
    "Qulcy4a-fN";

std::string D(const char* b64url) {
  std::optional<std::string> out = Base64UrlDecode(b64url);
  EXPECT_TRUE(out.has_value()) << b64url;
  return out.value_or("");
}

EncryptInputs RfcInputs() {
  EncryptInputs in;
  in.plaintext = D(kPlaintext);
  in.ua_public = D(kUaPublic);
  in.auth_secret = D(kAuth);
  in.as_private_scalar = D(kAsPrivate);
  in.salt = D(kSalt);
  return in;
}

// A fresh receiver key pair: {private scalar, uncompressed public point}.
std::pair<std::string, std::string> NewReceiverKey() {
  for (;;) {
    std::string d(32, '\0');
    EXPECT_EQ(RAND_bytes(reinterpret_cast<unsigned char*>(d.data()), 32), 1);
    absl::StatusOr<SigningKey> key = SigningKey::FromP256PrivateScalar(d);
    if (key.ok()) return {d, key->PublicKeyUncompressed()};
  }
}

std::string NewAuthSecret() {
  std::string auth(16, '\0');
  EXPECT_EQ(RAND_bytes(reinterpret_cast<unsigned char*>(auth.data()), 16), 1);
  return auth;
}

TEST(WebPushCryptoTest, Rfc8291AppendixAEcdhAndKeys) {
  absl::StatusOr<std::string> ecdh = internal::EcdhP256(D(kAsPrivate), D(kUaPublic));
  ASSERT_TRUE(ecdh.ok()) << ecdh.status();
  EXPECT_EQ(Base64UrlEncode(*ecdh), kEcdhSecret);
  // Same secret from the receiver's side.
  absl::StatusOr<std::string> ecdh2 = internal::EcdhP256(D(kUaPrivate), D(kAsPublic));
  ASSERT_TRUE(ecdh2.ok()) << ecdh2.status();
  EXPECT_EQ(*ecdh2, *ecdh);

  internal::ContentKeys keys =
      internal::DeriveContentKeys(*ecdh, D(kAuth), D(kUaPublic), D(kAsPublic), D(kSalt));
  EXPECT_EQ(Base64UrlEncode(keys.cek), kCek);
  EXPECT_EQ(Base64UrlEncode(keys.nonce), kNonce);
}

TEST(WebPushCryptoTest, Rfc8291AppendixABodyByteForByte) {
  absl::StatusOr<std::string> body = EncryptAes128Gcm(RfcInputs());
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(body->size(), 144u);
  EXPECT_EQ(Base64UrlEncode(*body), kBody);
  EXPECT_EQ(*body, D(kBody));
  // Header layout.
  EXPECT_EQ(body->substr(0, 16), D(kSalt));
  EXPECT_EQ(body->substr(16, 4), std::string("\x00\x00\x10\x00", 4));
  EXPECT_EQ(static_cast<unsigned char>((*body)[20]), 65);
  EXPECT_EQ(body->substr(21, 65), D(kAsPublic));
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(WebPushCryptoTest, DecryptsRfcBody) {
  absl::StatusOr<std::string> plain = DecryptAes128Gcm(D(kBody), D(kUaPrivate), D(kAuth));
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, D(kPlaintext));
  EXPECT_EQ(*plain, "When I grow up, I want to be a watermelon");
}

TEST(WebPushCryptoTest, RoundTripWithFreshKeysAndSalts) {
  auto [ua_private, ua_public] = NewReceiverKey();
  EncryptInputs in;
  in.plaintext = R"({"room_id":"!a:b","unread":1,"content":{"body":"héllo…"}})";
  in.ua_public = ua_public;
  in.auth_secret = NewAuthSecret();

  absl::StatusOr<std::string> a = EncryptAes128Gcm(in);
  absl::StatusOr<std::string> b = EncryptAes128Gcm(in);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_NE(*a, *b);
  EXPECT_NE(a->substr(0, 16), b->substr(0, 16));    // salt
  EXPECT_NE(a->substr(21, 65), b->substr(21, 65));  // sender key
  EXPECT_EQ(a->size(), kAes128GcmOverhead + in.plaintext.size());

  for (const std::string* body : {&*a, &*b}) {
    absl::StatusOr<std::string> plain = DecryptAes128Gcm(*body, ua_private, in.auth_secret);
    ASSERT_TRUE(plain.ok()) << plain.status();
    EXPECT_EQ(*plain, in.plaintext);
  }
  // The wrong receiver key or auth secret does not decrypt.
  EXPECT_FALSE(DecryptAes128Gcm(*a, NewReceiverKey().first, in.auth_secret).ok());
  EXPECT_FALSE(DecryptAes128Gcm(*a, ua_private, NewAuthSecret()).ok());
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(WebPushCryptoTest, EmptyPlaintext) {
  auto [ua_private, ua_public] = NewReceiverKey();
  EncryptInputs in;
  in.ua_public = ua_public;
  in.auth_secret = NewAuthSecret();
  absl::StatusOr<std::string> body = EncryptAes128Gcm(in);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(body->size(), kAes128GcmOverhead);
  absl::StatusOr<std::string> plain = DecryptAes128Gcm(*body, ua_private, in.auth_secret);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, "");
}

TEST(WebPushCryptoTest, Padding) {
  auto [ua_private, ua_public] = NewReceiverKey();
  EncryptInputs in;
  in.plaintext = "hello";
  in.ua_public = ua_public;
  in.auth_secret = NewAuthSecret();
  in.pad_to = 200;
  absl::StatusOr<std::string> body = EncryptAes128Gcm(in);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(body->size(), kAes128GcmHeaderSize + 200 + 16);
  absl::StatusOr<std::string> plain = DecryptAes128Gcm(*body, ua_private, in.auth_secret);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, "hello");

  // Padding target below the natural size: no padding.
  in.pad_to = 3;
  body = EncryptAes128Gcm(in);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(body->size(), kAes128GcmOverhead + 5);

  // A plaintext whose own bytes end in zeros survives the padding removal.
  in.plaintext = std::string("ab\0\0", 4);
  in.pad_to = 64;
  body = EncryptAes128Gcm(in);
  ASSERT_TRUE(body.ok()) << body.status();
  plain = DecryptAes128Gcm(*body, ua_private, in.auth_secret);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, in.plaintext);

  // RFC vector padded to fill the whole 4096-byte record.
  EncryptInputs rfc = RfcInputs();
  rfc.pad_to = 4096 - 16;
  body = EncryptAes128Gcm(rfc);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(body->size(), kAes128GcmHeaderSize + 4096);
  plain = DecryptAes128Gcm(*body, D(kUaPrivate), D(kAuth));
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, D(kPlaintext));
}

TEST(WebPushCryptoTest, RecordMustFitRecordSize) {
  auto [ua_private, ua_public] = NewReceiverKey();
  EncryptInputs in;
  in.ua_public = ua_public;
  in.auth_secret = NewAuthSecret();

  // 4096-byte record: 16-byte tag + 1 delimiter leave 4079 bytes.
  in.plaintext = std::string(4079, 'x');
  absl::StatusOr<std::string> body = EncryptAes128Gcm(in);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(body->size(), kAes128GcmHeaderSize + 4096);
  absl::StatusOr<std::string> plain = DecryptAes128Gcm(*body, ua_private, in.auth_secret);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, in.plaintext);

  in.plaintext = std::string(4080, 'x');
  body = EncryptAes128Gcm(in);
  EXPECT_EQ(body.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(body.status().message(), HasSubstr("too large"));

  in.plaintext = "x";
  in.pad_to = 4081;
  body = EncryptAes128Gcm(in);
  EXPECT_EQ(body.status().code(), absl::StatusCode::kFailedPrecondition);

  in.pad_to = 0;
  in.record_size = 17;
  EXPECT_EQ(EncryptAes128Gcm(in).status().code(), absl::StatusCode::kFailedPrecondition);

  // A small record size is written to the header and honoured.
  in.record_size = 18;
  in.plaintext = "";
  body = EncryptAes128Gcm(in);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(body->substr(16, 4), std::string("\x00\x00\x00\x12", 4));
  in.plaintext = "x";  // 1 + delimiter + 16-byte tag = 18
  body = EncryptAes128Gcm(in);
  ASSERT_TRUE(body.ok()) << body.status();
  plain = DecryptAes128Gcm(*body, ua_private, in.auth_secret);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, "x");
  in.plaintext = "xy";
  EXPECT_FALSE(EncryptAes128Gcm(in).ok());
}

TEST(WebPushCryptoTest, RejectsBadP256dh) {
  EncryptInputs in = RfcInputs();
  const std::string good = in.ua_public;

  std::string off_curve = good;
  off_curve[64] = static_cast<char>(off_curve[64] ^ 0x01);
  std::string compressed = good.substr(0, 33);
  compressed[0] = 0x02;
  std::string bad_prefix = good;
  bad_prefix[0] = 0x05;

  for (const std::string& key :
       {std::string(), good.substr(0, 64), good + "x", compressed, bad_prefix, off_curve,
        std::string(65, '\0'), "\x04" + std::string(64, '\xff')}) {
    in.ua_public = key;
    absl::StatusOr<std::string> body = EncryptAes128Gcm(in);
    EXPECT_EQ(body.status().code(), absl::StatusCode::kInvalidArgument) << key.size();
    EXPECT_THAT(body.status().message(), HasSubstr("p256dh is not a valid P-256 public key"));
    EXPECT_EQ(ERR_peek_error(), 0u);
  }
}

TEST(WebPushCryptoTest, RejectsBadAuthSecretSizes) {
  EncryptInputs in = RfcInputs();
  for (size_t n : {0, 8, 15, 17, 32}) {
    in.auth_secret = std::string(n, 'a');
    absl::StatusOr<std::string> body = EncryptAes128Gcm(in);
    EXPECT_EQ(body.status().code(), absl::StatusCode::kInvalidArgument) << n;
    EXPECT_THAT(body.status().message(), HasSubstr("auth secret must be 16 bytes"));
    EXPECT_EQ(DecryptAes128Gcm(D(kBody), D(kUaPrivate), in.auth_secret).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(WebPushCryptoTest, RejectsBadTestKeyAndSalt) {
  EncryptInputs in = RfcInputs();
  in.salt = "short";
  EXPECT_EQ(EncryptAes128Gcm(in).status().code(), absl::StatusCode::kFailedPrecondition);
  in = RfcInputs();
  in.as_private_scalar = std::string(32, '\0');
  EXPECT_EQ(EncryptAes128Gcm(in).status().code(), absl::StatusCode::kFailedPrecondition);
  in.as_private_scalar = "abc";
  EXPECT_EQ(EncryptAes128Gcm(in).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(WebPushCryptoTest, TamperedBodyFailsToDecrypt) {
  const std::string body = D(kBody);
  // Every byte of the salt, sender key, ciphertext and tag matters.
  for (size_t i : {size_t{0}, size_t{15}, size_t{30}, size_t{85}, size_t{86}, size_t{100},
                   body.size() - 17, body.size() - 1}) {
    std::string tampered = body;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    absl::StatusOr<std::string> plain = DecryptAes128Gcm(tampered, D(kUaPrivate), D(kAuth));
    EXPECT_FALSE(plain.ok()) << i;
    EXPECT_EQ(plain.status().code(), absl::StatusCode::kInvalidArgument) << i;
  }
  // Truncated: in the header, just after it, inside the tag.
  for (size_t n : {size_t{0}, size_t{20}, size_t{85}, size_t{86}, size_t{100}, body.size() - 1}) {
    EXPECT_FALSE(DecryptAes128Gcm(body.substr(0, n), D(kUaPrivate), D(kAuth)).ok()) << n;
  }
  // Wrong key id length.
  std::string bad_idlen = body;
  bad_idlen[20] = 64;
  EXPECT_THAT(DecryptAes128Gcm(bad_idlen, D(kUaPrivate), D(kAuth)).status().message(),
              HasSubstr("idlen"));
  // Ciphertext longer than rs: more than one record.
  std::string small_rs = body;
  small_rs[18] = 0;
  small_rs[19] = 20;
  EXPECT_THAT(DecryptAes128Gcm(small_rs, D(kUaPrivate), D(kAuth)).status().message(),
              HasSubstr("more than one record"));
  EXPECT_EQ(ERR_peek_error(), 0u);
}

}  // namespace
}  // namespace herald::providers::webpush
