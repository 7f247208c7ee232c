#include "providers/common/openssl_util.h"

#include <openssl/crypto.h>
#include <openssl/objects.h>

#include <climits>

#include "absl/strings/str_cat.h"

namespace herald::providers::openssl {

void ClearFreeParams(OSSL_PARAM* params) {
  for (OSSL_PARAM* p = params; p->key != nullptr; ++p) {
    if (p->data != nullptr && p->data_size > 0) OPENSSL_cleanse(p->data, p->data_size);
  }
  OSSL_PARAM_free(params);
}
std::string OpensslReason() {
  const char* reason = ERR_reason_error_string(ERR_peek_last_error());
  return reason != nullptr ? reason : "unknown error";
}

void Cleanse(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

BioPtr MemBio(absl::string_view data) {
  if (data.size() > static_cast<size_t>(INT_MAX)) return nullptr;
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

int NoPassword(char*, int, int, void*) { return -1; }

absl::string_view AlgName(Alg alg) { return alg == Alg::kES256 ? "ES256" : "RS256"; }

absl::StatusOr<Alg> ClassifyKey(EVP_PKEY* pkey) {
  const int id = EVP_PKEY_get_base_id(pkey);
  if (id == EVP_PKEY_EC) {
    char group[80] = {0};
    size_t group_len = 0;
    if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &group_len) != 1) {
      return absl::InvalidArgumentError(
          "EC key has no named curve (explicit curve parameters are not supported); ES256 "
          "needs P-256");
    }
    int nid = OBJ_sn2nid(group);
    if (nid == NID_undef) nid = EC_curve_nist2nid(group);
    if (nid != NID_X9_62_prime256v1) {
      return absl::InvalidArgumentError(
          absl::StrCat("EC key is on curve ", group, ", not P-256 (ES256 needs P-256)"));
    }
    return Alg::kES256;
  }
  if (id == EVP_PKEY_RSA) {
    const int bits = EVP_PKEY_get_bits(pkey);
    if (bits < 2048) {
      return absl::InvalidArgumentError(absl::StrCat(
          "RSA key has ", bits, " bits; RS256 needs at least 2048 (RFC 7518 section 3.3)"));
    }
    return Alg::kRS256;
  }
  const char* type = EVP_PKEY_get0_type_name(pkey);
  return absl::InvalidArgumentError(absl::StrCat("unsupported key type ",
                                                 type != nullptr ? type : "(unknown)",
                                                 "; expected EC P-256 (ES256) or RSA (RS256)"));
}

// Parses a private key from one PEM block's DER body.

std::optional<std::string> EcdsaDerToRaw(absl::string_view der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (sig == nullptr) return std::nullopt;
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(64, '\0');
  unsigned char* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, 32) != 32 || BN_bn2binpad(s, out + 32, 32) != 32) {
    return std::nullopt;
  }
  return raw;
}

std::optional<std::string> EcdsaRawToDer(absl::string_view raw) {
  if (raw.size() != 64) return std::nullopt;
  const unsigned char* in = reinterpret_cast<const unsigned char*>(raw.data());
  BnPtr r(BN_bin2bn(in, 32, nullptr));
  BnPtr s(BN_bin2bn(in + 32, 32, nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (r == nullptr || s == nullptr || sig == nullptr) return std::nullopt;
  if (ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
  (void)r.release();  // Now owned by sig.
  (void)s.release();
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return std::nullopt;
  std::unique_ptr<unsigned char, OpensslFree> owned(der);
  return std::string(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
}

}  // namespace herald::providers::openssl
