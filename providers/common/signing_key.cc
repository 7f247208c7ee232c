#include "providers/common/signing_key.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "providers/common/openssl_util.h"

namespace herald::providers {
namespace {

using namespace openssl;  // this package's OpenSSL helpers

PkeyPtr DecodePrivateKeyDer(absl::string_view name, const unsigned char* der, long len) {
  const unsigned char* p = der;
  if (name == PEM_STRING_PKCS8INF) {  // "PRIVATE KEY"
    std::unique_ptr<PKCS8_PRIV_KEY_INFO, Free<PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free>> p8(
        d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, len));
    if (p8 == nullptr) return nullptr;
    return PkeyPtr(EVP_PKCS82PKEY(p8.get()));
  }
  if (name == PEM_STRING_ECPRIVATEKEY) {  // "EC PRIVATE KEY"
    return PkeyPtr(d2i_PrivateKey(EVP_PKEY_EC, nullptr, &p, len));
  }
  if (name == PEM_STRING_RSA) {  // "RSA PRIVATE KEY"
    return PkeyPtr(d2i_PrivateKey(EVP_PKEY_RSA, nullptr, &p, len));
  }
  return nullptr;
}

bool IsPrivateKeyBlock(absl::string_view name) {
  return name == PEM_STRING_PKCS8INF || name == PEM_STRING_ECPRIVATEKEY || name == PEM_STRING_RSA;
}

}  // namespace

absl::StatusOr<SigningKey> SigningKey::Adopt(EVP_PKEY* raw) {
  PkeyPtr pkey(raw);
  absl::StatusOr<Alg> alg = ClassifyKey(pkey.get());
  if (!alg.ok()) return alg.status();
  if (*alg == Alg::kES256) {
    // Point on the curve, scalar in range, public == scalar * G.
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
    if (ctx == nullptr || EVP_PKEY_check(ctx.get()) != 1) {
      return absl::InvalidArgumentError("EC private key is invalid (fails the key check)");
    }
  }
  const Kind kind = *alg == Alg::kES256 ? Kind::kEcP256 : Kind::kRsa;
  return SigningKey(std::shared_ptr<EVP_PKEY>(pkey.release(), EVP_PKEY_free), kind);
}

absl::StatusOr<SigningKey> SigningKey::FromPem(absl::string_view pem) {
  ClearOpensslErrorsOnExit clear_errors;
  BioPtr bio = MemBio(pem);
  if (bio == nullptr) return absl::InvalidArgumentError("PEM text too large");

  // Walk the PEM blocks; use the first private key, remember what else we saw.
  std::vector<std::string> seen;
  bool saw_public = false;
  bool saw_certificate = false;
  bool saw_encrypted = false;
  PkeyPtr pkey;
  bool parse_failed = false;
  while (pkey == nullptr && !parse_failed) {
    char* name_raw = nullptr;
    char* header_raw = nullptr;
    unsigned char* data_raw = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &name_raw, &header_raw, &data_raw, &len) != 1) break;
    std::unique_ptr<char, OpensslFree> name(name_raw);
    std::unique_ptr<char, OpensslFree> header(header_raw);
    const absl::string_view block(name_raw);
    seen.emplace_back(block);
    if (block == PEM_STRING_PKCS8 ||  // "ENCRYPTED PRIVATE KEY"
        (IsPrivateKeyBlock(block) && header_raw != nullptr &&
         absl::StrContains(header_raw, "ENCRYPTED"))) {
      saw_encrypted = true;
    } else if (IsPrivateKeyBlock(block)) {
      pkey = DecodePrivateKeyDer(block, data_raw, len);
      if (pkey == nullptr) parse_failed = true;
    } else if (block == PEM_STRING_PUBLIC || block == PEM_STRING_RSA_PUBLIC) {
      saw_public = true;
    } else if (block == PEM_STRING_X509 || block == PEM_STRING_X509_OLD ||
               block == PEM_STRING_X509_TRUSTED) {
      saw_certificate = true;
    }
    OPENSSL_clear_free(data_raw, static_cast<size_t>(len > 0 ? len : 0));
  }

  if (pkey != nullptr) return Adopt(pkey.release());
  if (parse_failed) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot parse the private key in the PEM (", OpensslReason(), ")"));
  }
  if (saw_encrypted) {
    return absl::InvalidArgumentError(
        "the PEM private key is encrypted; pass-phrase protected keys are not supported");
  }
  if (seen.empty()) {
    if (absl::StrContains(pem, "-----BEGIN ")) {
      return absl::InvalidArgumentError("malformed PEM (a BEGIN line without a valid block)");
    }
    return absl::InvalidArgumentError("not PEM (no \"-----BEGIN ...-----\" block)");
  }
  if (saw_public) {
    return absl::InvalidArgumentError("the PEM holds a public key, not a private key");
  }
  if (saw_certificate) {
    return absl::InvalidArgumentError("the PEM holds a certificate, not a private key");
  }
  return absl::InvalidArgumentError(
      absl::StrCat("the PEM holds no private key (found: ", absl::StrJoin(seen, ", "), ")"));
}

absl::StatusOr<SigningKey> SigningKey::FromPemFile(const std::string& path) {
  absl::StatusOr<std::string> pem = ReadPemFile(path);
  if (!pem.ok()) return pem.status();
  absl::StatusOr<SigningKey> key = FromPem(*pem);
  Cleanse(*pem);
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", key.status().message()));
  }
  return key;
}

absl::StatusOr<SigningKey> SigningKey::FromP256PrivateScalar(absl::string_view d32) {
  ClearOpensslErrorsOnExit clear_errors;
  if (d32.size() != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("a P-256 private scalar is 32 bytes, got ", d32.size()));
  }
  EcGroupPtr group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
  BnCtxPtr bn_ctx(BN_CTX_new());
  BnPtr d(BN_secure_new());
  if (group == nullptr || bn_ctx == nullptr || d == nullptr) {
    return absl::InternalError("OpenSSL allocation failed");
  }
  BN_set_flags(d.get(), BN_FLG_CONSTTIME);
  if (BN_bin2bn(reinterpret_cast<const unsigned char*>(d32.data()), 32, d.get()) == nullptr) {
    return absl::InternalError("OpenSSL BN_bin2bn failed");
  }
  const BIGNUM* order = EC_GROUP_get0_order(group.get());
  if (BN_is_zero(d.get()) || BN_cmp(d.get(), order) >= 0) {
    return absl::InvalidArgumentError("P-256 private scalar out of range (need 1 <= d < n)");
  }

  // Public point Q = d * G, uncompressed.
  EcPointPtr q(EC_POINT_new(group.get()));
  unsigned char pub[65];
  if (q == nullptr ||
      EC_POINT_mul(group.get(), q.get(), d.get(), nullptr, nullptr, bn_ctx.get()) != 1 ||
      EC_POINT_point2oct(group.get(), q.get(), POINT_CONVERSION_UNCOMPRESSED, pub, sizeof(pub),
                         bn_ctx.get()) != sizeof(pub)) {
    return absl::InternalError("cannot compute the P-256 public point");
  }

  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (bld == nullptr ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, SN_X9_62_prime256v1,
                                      0) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get()) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)) != 1) {
    return absl::InternalError("cannot build EC key parameters");
  }
  ParamsPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (params == nullptr || ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEYPAIR, params.get()) != 1 || raw == nullptr) {
    return absl::InternalError("cannot import the P-256 key into OpenSSL");
  }
  return Adopt(raw);
}

absl::string_view SigningKey::jws_algorithm() const {
  return AlgName(kind_ == Kind::kEcP256 ? Alg::kES256 : Alg::kRS256);
}

std::string SigningKey::PublicKeyUncompressed() const {
  ClearOpensslErrorsOnExit clear_errors;
  if (kind_ != Kind::kEcP256) return "";
  BIGNUM* x_raw = nullptr;
  BIGNUM* y_raw = nullptr;
  EVP_PKEY_get_bn_param(pkey_.get(), OSSL_PKEY_PARAM_EC_PUB_X, &x_raw);
  EVP_PKEY_get_bn_param(pkey_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, &y_raw);
  BnPtr x(x_raw);
  BnPtr y(y_raw);
  if (x == nullptr || y == nullptr) return "";
  std::string out(65, '\0');
  unsigned char* p = reinterpret_cast<unsigned char*>(out.data());
  p[0] = 0x04;
  if (BN_bn2binpad(x.get(), p + 1, 32) != 32 || BN_bn2binpad(y.get(), p + 33, 32) != 32) {
    return "";
  }
  return out;
}

std::string SigningKey::PublicKeyPem() const {
  ClearOpensslErrorsOnExit clear_errors;
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio.get(), pkey_.get()) != 1) return "";
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0 || data == nullptr) return "";
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace herald::providers
