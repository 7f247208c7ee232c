// OpenSSL helpers shared by the key, signing and verification code of this
// package (not for use elsewhere): RAII owners, error-queue hygiene, the key
// classification JWS needs, and ECDSA signature formats.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/x509.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace herald::providers::openssl {

template <typename T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Free<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Free<EVP_MD_CTX, EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Free<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Free<X509, X509_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Free<BIGNUM, BN_clear_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, Free<BN_CTX, BN_CTX_free>>;
using EcGroupPtr = std::unique_ptr<EC_GROUP, Free<EC_GROUP, EC_GROUP_free>>;
using EcPointPtr = std::unique_ptr<EC_POINT, Free<EC_POINT, EC_POINT_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Free<ECDSA_SIG, ECDSA_SIG_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Free<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;

// OpenSSL 3.0 has no OSSL_PARAM_clear_free; the array may hold a private key.
void ClearFreeParams(OSSL_PARAM* params);
using ParamsPtr = std::unique_ptr<OSSL_PARAM, Free<OSSL_PARAM, ClearFreeParams>>;

struct OpensslFree {
  void operator()(void* p) const { OPENSSL_free(p); }
};

// Leaves the thread's OpenSSL error queue empty when the scope ends.
class ClearOpensslErrorsOnExit {
 public:
  ClearOpensslErrorsOnExit() = default;
  ClearOpensslErrorsOnExit(const ClearOpensslErrorsOnExit&) = delete;
  ClearOpensslErrorsOnExit& operator=(const ClearOpensslErrorsOnExit&) = delete;
  ~ClearOpensslErrorsOnExit() { ERR_clear_error(); }
};

// OpenSSL's reason for the most recent failure (a fixed library string, never
// key material).
std::string OpensslReason();
// Wipes a string that held key material.
void Cleanse(std::string& s);
BioPtr MemBio(absl::string_view data);
// Never prompts for a pass phrase (encrypted keys are rejected).
int NoPassword(char*, int, int, void*);

enum class Alg { kES256, kRS256 };
absl::string_view AlgName(Alg alg);
// Accepts EC keys on P-256 and RSA keys of at least 2048 bits.
absl::StatusOr<Alg> ClassifyKey(EVP_PKEY* pkey);

// DER ECDSA-Sig-Value → 64-byte r || s.
std::optional<std::string> EcdsaDerToRaw(absl::string_view der);
// 64-byte r || s → DER ECDSA-Sig-Value.
std::optional<std::string> EcdsaRawToDer(absl::string_view raw);

}  // namespace herald::providers::openssl
