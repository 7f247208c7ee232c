// Test-only helpers for keys and tokens: generate keys, write them as PEM,
// split a compact JWS into its decoded parts.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "providers/common/encoding.h"
#include "providers/common/signing_key.h"

namespace herald::providers::jose_testing {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

struct BioFree {
  void operator()(BIO* b) const { BIO_free_all(b); }
};
using Bio = std::unique_ptr<BIO, BioFree>;

inline std::string BioText(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

inline Pkey GenEc(const char* curve) {
  return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
}

inline Pkey GenRsa(size_t bits) { return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits)); }

// "BEGIN PRIVATE KEY" (PKCS#8).
inline std::string Pkcs8Pem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  EXPECT_EQ(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  return BioText(bio.get());
}

inline std::string PublicPem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  EXPECT_EQ(PEM_write_bio_PUBKEY(bio.get(), key), 1);
  return BioText(bio.get());
}

inline SigningKey KeyOrDie(const std::string& pem) {
  absl::StatusOr<SigningKey> key = SigningKey::FromPem(pem);
  EXPECT_TRUE(key.ok()) << key.status();
  return *std::move(key);
}

// An EC P-256 and an RSA 2048 key, as SigningKeys and as public PEM.
struct TestKeys {
  Pkey ec = GenEc("P-256");
  Pkey rsa = GenRsa(2048);
  SigningKey Ec() const { return KeyOrDie(Pkcs8Pem(ec.get())); }
  SigningKey Rsa() const { return KeyOrDie(Pkcs8Pem(rsa.get())); }
  std::string EcPublicPem() const { return PublicPem(ec.get()); }
  std::string RsaPublicPem() const { return PublicPem(rsa.get()); }
};

inline std::string B64u(absl::string_view text) {
  std::optional<std::string> out = Base64UrlDecode(text);
  EXPECT_TRUE(out.has_value()) << text;
  return out.value_or("");
}

struct Parts {
  std::string header, claims, signature;  // decoded
};

inline Parts Split(const std::string& jwt) {
  std::vector<std::string> parts = absl::StrSplit(jwt, '.');
  EXPECT_EQ(parts.size(), 3u) << jwt;
  if (parts.size() != 3) return {};
  return {B64u(parts[0]), B64u(parts[1]), B64u(parts[2])};
}

}  // namespace herald::providers::jose_testing
