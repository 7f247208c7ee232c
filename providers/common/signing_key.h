// Private keys for JWS signing: EC P-256 (ES256) and RSA (RS256), from PEM
// or a raw P-256 scalar. Pure library: no network, no logging, no clock;
// errors never contain key material, and OpenSSL's error queue is left empty.
#pragma once

#include "common/pem_file.h"

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

// OpenSSL's key type, forward-declared so users need not include OpenSSL.
typedef struct evp_pkey_st EVP_PKEY;

namespace herald::providers {

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
  SigningKey(std::shared_ptr<EVP_PKEY> pkey, Kind kind) : pkey_(std::move(pkey)), kind_(kind) {}
  // Takes ownership of `pkey`; checks the type (P-256 or RSA >= 2048).
  static absl::StatusOr<SigningKey> Adopt(EVP_PKEY* pkey);

  std::shared_ptr<EVP_PKEY> pkey_;
  Kind kind_;
};

using herald::ReadPemFile;  // common/pem_file.h

}  // namespace herald::providers
