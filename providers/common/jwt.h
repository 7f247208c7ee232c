// JSON Web Tokens for the push providers: base64/base64url/hex helpers,
// private keys (EC P-256 for ES256, RSA for RS256), JWS compact signing and
// verification (RFC 7515/7518), and the exact tokens APNs, Google OAuth
// (FCM v1) and VAPID (RFC 8292) expect.
//
// Pure library: no network, no logging, no clock. Error messages never
// contain key material. Every function leaves OpenSSL's thread-local error
// queue empty, so a failure here cannot leak into later TLS code.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

// OpenSSL's key type, forward-declared so users need not include OpenSSL.
typedef struct evp_pkey_st EVP_PKEY;

namespace herald::providers {

// Base64url (RFC 4648 §5) without '=' padding.
std::string Base64UrlEncode(absl::string_view bytes);
// Base64url with or without '=' padding (padding, when present, must be
// complete: "QQ" and "QQ==" decode, "QQ=" does not). nullopt on any character
// outside the alphabet (including '+', '/', whitespace), on an impossible
// length, or on non-zero unused trailing bits (non-canonical encoding).
std::optional<std::string> Base64UrlDecode(absl::string_view text);
// Standard base64 (RFC 4648 §4), with the same strictness rules as
// Base64UrlDecode ('-' and '_' are rejected here; padding is optional).
std::optional<std::string> Base64Decode(absl::string_view text);
// Either alphabet (even mixed), padded or not, and non-zero unused trailing
// bits ignored: what clients send as Web Push keys and APNs tokens, and what
// Sygnal (Python's base64, pywebpush) accepted.
std::optional<std::string> Base64DecodeAnyAlphabet(absl::string_view text);
// Lowercase hex.
std::string HexEncode(absl::string_view bytes);

// A private key usable for JWS signing. Copies share the same immutable
// OpenSSL key (EVP_PKEY is safe to use for signing from several threads).
class SigningKey {
 public:
  // Loads a PEM private key: EC on P-256 (PKCS#8 "BEGIN PRIVATE KEY", as in
  // Apple's .p8 files, or SEC1 "BEGIN EC PRIVATE KEY") or RSA of at least 2048
  // bits (PKCS#8 or PKCS#1 "BEGIN RSA PRIVATE KEY"; RFC 7518 §3.3). Other PEM
  // blocks before the key (e.g. "EC PARAMETERS") are skipped. Encrypted keys
  // are not supported. Errors are absl::InvalidArgumentError: not PEM, no
  // private key (public key / certificate only), encrypted, unsupported key
  // type, EC key not on P-256, RSA key too short, corrupt key.
  static absl::StatusOr<SigningKey> FromPem(absl::string_view pem);
  // Reads `path` and calls FromPem. I/O failure: InvalidArgumentError
  // "cannot read <path>: <strerror>"; parse errors are prefixed by "<path>: ".
  static absl::StatusOr<SigningKey> FromPemFile(const std::string& path);
  // A raw 32-byte big-endian P-256 private scalar (as Web Push test vectors
  // and VAPID key tools give keys). InvalidArgumentError unless exactly 32
  // bytes and 1 <= d < n.
  static absl::StatusOr<SigningKey> FromP256PrivateScalar(absl::string_view d32);

  bool is_ec_p256() const { return kind_ == Kind::kEcP256; }
  bool is_rsa() const { return kind_ == Kind::kRsa; }
  // The JWS "alg" this key signs with: "ES256" or "RS256".
  absl::string_view jws_algorithm() const;

  // Uncompressed public point (65 bytes, 0x04 || X || Y) for EC keys; empty
  // for RSA.
  std::string PublicKeyUncompressed() const;
  // PEM ("BEGIN PUBLIC KEY", SubjectPublicKeyInfo) of the public half.
  std::string PublicKeyPem() const;
  // Never null. Owned by this object (and its copies).
  EVP_PKEY* get() const { return pkey_.get(); }

 private:
  enum class Kind { kEcP256, kRsa };
  SigningKey(std::shared_ptr<EVP_PKEY> pkey, Kind kind)
      : pkey_(std::move(pkey)), kind_(kind) {}
  // Takes ownership of `pkey`; checks the type (P-256 or RSA >= 2048).
  static absl::StatusOr<SigningKey> Adopt(EVP_PKEY* pkey);

  std::shared_ptr<EVP_PKEY> pkey_;
  Kind kind_;
};

// JWS compact serialization BASE64URL(header) "." BASE64URL(claims) "."
// BASE64URL(signature). `header_json` and `claims_json` are encoded exactly as
// given. The algorithm follows the key: EC P-256 → ES256 (signature is the
// 64-byte r || s, each left-padded to 32 bytes, not DER); RSA → RS256
// (RSASSA-PKCS1-v1_5 with SHA-256). InvalidArgumentError when `header_json` is
// not a JSON object whose "alg" names that algorithm (a token with another
// "alg" could never verify).
absl::StatusOr<std::string> SignJwt(const SigningKey& key, absl::string_view header_json,
                                    absl::string_view claims_json);

struct VerifiedJwt {
  std::string header_json;
  std::string claims_json;
};

// Checks the signature of a compact JWS. `public_key_pem` is a
// SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY") or a private key PEM (its
// public half is used); it must be EC P-256 or RSA >= 2048. The header's
// "alg" must be the key's algorithm (ES256 / RS256; never "none"), and a
// header with "crit" is rejected (no extensions are understood). Header and
// claims must be JSON objects. Claims are NOT validated (no exp/iat/aud
// checks). Errors: InvalidArgumentError for a malformed token or unusable
// key, UnauthenticatedError when the signature does not verify.
absl::StatusOr<VerifiedJwt> VerifyJwt(absl::string_view jwt, absl::string_view public_key_pem);

// APNs provider token: header {"alg":"ES256","kid":KEY_ID}, claims
// {"iss":TEAM_ID,"iat":IAT}. Needs an EC P-256 key; key_id and team_id must
// be non-empty.
absl::StatusOr<std::string> MakeApnsJwt(const SigningKey& key, absl::string_view key_id,
                                        absl::string_view team_id, int64_t iat);

// Google service-account assertion (OAuth 2.0 JWT bearer grant): header
// {"alg":"RS256","typ":"JWT"}, claims
// {"iss":EMAIL,"scope":SCOPE,"aud":TOKEN_URI,"iat":IAT,"exp":EXP}. Needs an
// RSA key; strings must be non-empty and iat < exp <= iat + 3600 (Google
// rejects longer-lived assertions).
absl::StatusOr<std::string> MakeGoogleOAuthJwt(const SigningKey& key,
                                               absl::string_view client_email,
                                               absl::string_view scope,
                                               absl::string_view token_uri, int64_t iat,
                                               int64_t exp);

// VAPID (RFC 8292): header {"typ":"JWT","alg":"ES256"}, claims
// {"aud":AUDIENCE,"exp":EXP,"sub":SUBJECT}. Needs an EC P-256 key; audience
// and subject must be non-empty. The caller keeps exp within 24 h of now.
absl::StatusOr<std::string> MakeVapidJwt(const SigningKey& key, absl::string_view audience,
                                         int64_t exp, absl::string_view subject);

}  // namespace herald::providers
