#include "providers/common/jwt.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace herald::providers {
namespace {

// ---------------------------------------------------------------------------
// Base64 / hex.

constexpr char kStdAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrlAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct DecodeTable {
  std::array<int8_t, 256> value{};
  constexpr explicit DecodeTable(const char* alphabet) {
    for (auto& v : value) v = -1;
    for (int i = 0; i < 64; ++i) value[static_cast<unsigned char>(alphabet[i])] = i;
  }
};
constexpr DecodeTable kStdTable(kStdAlphabet);
constexpr DecodeTable kUrlTable(kUrlAlphabet);

constexpr DecodeTable AnyTable() {
  DecodeTable t(kStdAlphabet);
  t.value['-'] = 62;
  t.value['_'] = 63;
  return t;
}
constexpr DecodeTable kAnyTable = AnyTable();

std::string EncodeBase64(absl::string_view bytes, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = (uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                 (uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8) |
                 uint32_t{static_cast<unsigned char>(bytes[i + 2])};
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    out.push_back(alphabet[(n >> 6) & 63]);
    out.push_back(alphabet[n & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t n = uint32_t{static_cast<unsigned char>(bytes[i])} << 16;
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    if (pad) out.append("==");
  } else if (rest == 2) {
    uint32_t n = (uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                 (uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8);
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    out.push_back(alphabet[(n >> 6) & 63]);
    if (pad) out.push_back('=');
  }
  return out;
}

std::optional<std::string> DecodeBase64(absl::string_view text, const DecodeTable& table,
                                        bool canonical = true) {
  size_t len = text.size();
  size_t pad = 0;
  while (len > 0 && text[len - 1] == '=') {
    --len;
    ++pad;
  }
  // Padding, when present, must complete the last quantum exactly.
  if (pad > 0 && (pad > 2 || text.size() % 4 != 0)) return std::nullopt;
  // One leftover character cannot encode a byte.
  if (len % 4 == 1) return std::nullopt;

  std::string out;
  out.reserve(len / 4 * 3 + 2);
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < len; ++i) {
    const int v = table.value[static_cast<unsigned char>(text[i])];
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
      buffer &= (1u << bits) - 1;
    }
  }
  // Unused trailing bits must be zero (canonical encoding only).
  if (canonical && buffer != 0) return std::nullopt;
  return out;
}

// ---------------------------------------------------------------------------
// OpenSSL RAII.

template <typename T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Free<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Free<EVP_MD_CTX, EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Free<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Free<BIGNUM, BN_clear_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, Free<BN_CTX, BN_CTX_free>>;
using EcGroupPtr = std::unique_ptr<EC_GROUP, Free<EC_GROUP, EC_GROUP_free>>;
using EcPointPtr = std::unique_ptr<EC_POINT, Free<EC_POINT, EC_POINT_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Free<ECDSA_SIG, ECDSA_SIG_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Free<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;

// OpenSSL 3.0 has no OSSL_PARAM_clear_free; the array may hold a private key.
void ClearFreeParams(OSSL_PARAM* params) {
  for (OSSL_PARAM* p = params; p->key != nullptr; ++p) {
    if (p->data != nullptr && p->data_size > 0) OPENSSL_cleanse(p->data, p->data_size);
  }
  OSSL_PARAM_free(params);
}
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
std::string OpensslReason() {
  const char* reason = ERR_reason_error_string(ERR_peek_last_error());
  return reason != nullptr ? reason : "unknown error";
}

// Wipes a string that held key material.
void Cleanse(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

BioPtr MemBio(absl::string_view data) {
  if (data.size() > static_cast<size_t>(INT_MAX)) return nullptr;
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

// Never prompts for a pass phrase (encrypted keys are rejected).
int NoPassword(char*, int, int, void*) { return -1; }

enum class Alg { kES256, kRS256 };

absl::string_view AlgName(Alg alg) { return alg == Alg::kES256 ? "ES256" : "RS256"; }

// Accepts EC keys on P-256 and RSA keys of at least 2048 bits.
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
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported key type ", type != nullptr ? type : "(unknown)",
                   "; expected EC P-256 (ES256) or RSA (RS256)"));
}

// Parses a private key from one PEM block's DER body.
PkeyPtr DecodePrivateKeyDer(absl::string_view name, const unsigned char* der, long len) {
  const unsigned char* p = der;
  if (name == PEM_STRING_PKCS8INF) {  // "PRIVATE KEY"
    std::unique_ptr<PKCS8_PRIV_KEY_INFO, Free<PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free>>
        p8(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, len));
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
  return name == PEM_STRING_PKCS8INF || name == PEM_STRING_ECPRIVATEKEY ||
         name == PEM_STRING_RSA;
}

// ---------------------------------------------------------------------------
// ECDSA signature formats.

// DER ECDSA-Sig-Value → 64-byte r || s.
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

// 64-byte r || s → DER ECDSA-Sig-Value.
std::optional<std::string> EcdsaRawToDer(absl::string_view raw) {
  if (raw.size() != 64) return std::nullopt;
  const unsigned char* in = reinterpret_cast<const unsigned char*>(raw.data());
  BnPtr r(BN_bin2bn(in, 32, nullptr));
  BnPtr s(BN_bin2bn(in + 32, 32, nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (r == nullptr || s == nullptr || sig == nullptr) return std::nullopt;
  if (ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
  r.release();  // Now owned by sig.
  s.release();
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return std::nullopt;
  std::unique_ptr<unsigned char, OpensslFree> owned(der);
  return std::string(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
}

// ---------------------------------------------------------------------------
// JSON.

constexpr unsigned kParseFlags = rapidjson::kParseValidateEncodingFlag;

// Parses a JOSE header / claims set: a JSON object with unique member names
// (RFC 7515 section 4 allows rejecting duplicates; doing so avoids parsers
// disagreeing on which "alg" counts).
std::optional<rapidjson::Document> ParseJsonObject(absl::string_view text) {
  rapidjson::Document doc;
  doc.Parse<kParseFlags>(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  absl::flat_hash_set<absl::string_view> names;
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    if (!names.emplace(it->name.GetString(), it->name.GetStringLength()).second) {
      return std::nullopt;
    }
  }
  return doc;
}

std::optional<std::string> StringMember(const rapidjson::Document& doc, const char* name) {
  auto it = doc.FindMember(name);
  if (it == doc.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

// Writes one flat JSON object, member by member, in call order.
class JsonObject {
 public:
  JsonObject() { ok_ = writer_.StartObject(); }
  JsonObject& Str(const char* key, absl::string_view value) {
    ok_ = ok_ && value.size() <= UINT32_MAX && writer_.Key(key) &&
          writer_.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    return *this;
  }
  JsonObject& Int(const char* key, int64_t value) {
    ok_ = ok_ && writer_.Key(key) && writer_.Int64(value);
    return *this;
  }
  // nullopt when a value was not valid UTF-8.
  std::optional<std::string> Finish() {
    ok_ = ok_ && writer_.EndObject();
    if (!ok_) return std::nullopt;
    return std::string(buffer_.GetString(), buffer_.GetSize());
  }

 private:
  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::UTF8<>,
                    rapidjson::CrtAllocator, rapidjson::kWriteValidateEncodingFlag>
      writer_{buffer_};
  bool ok_ = false;
};

absl::Status RequireNonEmpty(absl::string_view value, absl::string_view what) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " must not be empty"));
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------
// Encoding helpers.

std::string Base64UrlEncode(absl::string_view bytes) {
  return EncodeBase64(bytes, kUrlAlphabet, /*pad=*/false);
}

std::optional<std::string> Base64UrlDecode(absl::string_view text) {
  return DecodeBase64(text, kUrlTable);
}

std::optional<std::string> Base64Decode(absl::string_view text) {
  return DecodeBase64(text, kStdTable);
}

std::optional<std::string> Base64DecodeAnyAlphabet(absl::string_view text) {
  return DecodeBase64(text, kAnyTable, /*canonical=*/false);
}

std::string HexEncode(absl::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

// ---------------------------------------------------------------------------
// SigningKey.

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
  constexpr size_t kMaxSize = 1 << 20;  // Key files are a few KiB.
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  std::string pem;
  char chunk[4096];
  size_t n = 0;
  bool too_large = false;
  while ((n = std::fread(chunk, 1, sizeof(chunk), f)) > 0) {
    pem.append(chunk, n);
    if (pem.size() > kMaxSize) {
      too_large = true;
      break;
    }
  }
  const int read_errno = std::ferror(f) ? errno : 0;
  std::fclose(f);
  OPENSSL_cleanse(chunk, sizeof(chunk));
  if (read_errno != 0 || too_large) {
    Cleanse(pem);
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot read ", path, ": ", too_large ? "file too large" : std::strerror(read_errno)));
  }
  absl::StatusOr<SigningKey> key = FromPem(pem);
  Cleanse(pem);
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
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)) !=
          1) {
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

// ---------------------------------------------------------------------------
// JWS.

absl::StatusOr<std::string> SignJwt(const SigningKey& key, absl::string_view header_json,
                                    absl::string_view claims_json) {
  ClearOpensslErrorsOnExit clear_errors;
  std::optional<rapidjson::Document> header = ParseJsonObject(header_json);
  if (!header.has_value()) {
    return absl::InvalidArgumentError(
        "JWS header is not a JSON object (with unique member names)");
  }
  const std::optional<std::string> alg = StringMember(*header, "alg");
  if (!alg.has_value() || *alg != key.jws_algorithm()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "JWS header \"alg\" must be \"", key.jws_algorithm(), "\" for this key"));
  }

  std::string signing_input =
      absl::StrCat(Base64UrlEncode(header_json), ".", Base64UrlEncode(claims_json));
  MdCtxPtr md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // Owned by md.
  if (md == nullptr ||
      EVP_DigestSignInit(md.get(), &pctx, EVP_sha256(), nullptr, key.get()) != 1) {
    return absl::InternalError("cannot initialise signing");
  }
  if (key.is_rsa() && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
    return absl::InternalError("cannot select RSASSA-PKCS1-v1_5");
  }
  const int max_size = EVP_PKEY_get_size(key.get());
  if (max_size <= 0) return absl::InternalError("cannot size the signature");
  std::string sig(static_cast<size_t>(max_size), '\0');
  size_t sig_len = sig.size();
  if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return absl::InternalError(absl::StrCat("signing failed (", OpensslReason(), ")"));
  }
  sig.resize(sig_len);
  if (key.is_ec_p256()) {
    std::optional<std::string> raw = EcdsaDerToRaw(sig);
    if (!raw.has_value()) return absl::InternalError("cannot convert the ECDSA signature");
    sig = std::move(*raw);
  }
  signing_input.push_back('.');
  signing_input.append(Base64UrlEncode(sig));
  return signing_input;
}

absl::StatusOr<VerifiedJwt> VerifyJwt(absl::string_view jwt, absl::string_view public_key_pem) {
  ClearOpensslErrorsOnExit clear_errors;

  // Split the compact serialization.
  const size_t dot1 = jwt.find('.');
  const size_t dot2 = dot1 == absl::string_view::npos ? dot1 : jwt.find('.', dot1 + 1);
  if (dot2 == absl::string_view::npos || jwt.find('.', dot2 + 1) != absl::string_view::npos) {
    return absl::InvalidArgumentError("not a compact JWS (need exactly three '.'-separated parts)");
  }
  const absl::string_view header_b64 = jwt.substr(0, dot1);
  const absl::string_view claims_b64 = jwt.substr(dot1 + 1, dot2 - dot1 - 1);
  const absl::string_view sig_b64 = jwt.substr(dot2 + 1);
  const absl::string_view signing_input = jwt.substr(0, dot2);

  // The verification key: a public key PEM, else a private key PEM.
  PkeyPtr pkey;
  {
    BioPtr bio = MemBio(public_key_pem);
    if (bio != nullptr) pkey.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, NoPassword, nullptr));
  }
  if (pkey == nullptr) {
    absl::StatusOr<SigningKey> priv = SigningKey::FromPem(public_key_pem);
    if (!priv.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "verification key: expected a PUBLIC KEY or private key PEM (", priv.status().message(),
          ")"));
    }
    if (EVP_PKEY_up_ref(priv->get()) != 1) return absl::InternalError("EVP_PKEY_up_ref failed");
    pkey.reset(priv->get());
  }
  absl::StatusOr<Alg> key_alg = ClassifyKey(pkey.get());
  if (!key_alg.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("verification key: ", key_alg.status().message()));
  }

  // Header.
  VerifiedJwt out;
  std::optional<std::string> header_json = Base64UrlDecode(header_b64);
  if (!header_json.has_value()) return absl::InvalidArgumentError("JWS header is not base64url");
  std::optional<rapidjson::Document> header = ParseJsonObject(*header_json);
  if (!header.has_value()) {
    return absl::InvalidArgumentError("JWS header is not a JSON object (with unique member names)");
  }
  const std::optional<std::string> alg = StringMember(*header, "alg");
  if (!alg.has_value()) return absl::InvalidArgumentError("JWS header has no \"alg\"");
  if (*alg != AlgName(*key_alg)) {
    return absl::InvalidArgumentError(absl::StrCat("JWS \"alg\" is \"", *alg, "\"; this key needs \"",
                                                   AlgName(*key_alg), "\""));
  }
  if (header->HasMember("crit")) {
    return absl::InvalidArgumentError("JWS header has \"crit\" extensions, none are supported");
  }

  // Signature.
  std::optional<std::string> sig = Base64UrlDecode(sig_b64);
  if (!sig.has_value()) return absl::InvalidArgumentError("JWS signature is not base64url");
  if (*key_alg == Alg::kES256) {
    if (sig->size() != 64) {
      return absl::UnauthenticatedError(
          absl::StrCat("ES256 signature must be 64 bytes, got ", sig->size()));
    }
    std::optional<std::string> der = EcdsaRawToDer(*sig);
    if (!der.has_value()) return absl::InternalError("cannot convert the ECDSA signature");
    sig = std::move(der);
  } else if (sig->size() != static_cast<size_t>(EVP_PKEY_get_size(pkey.get()))) {
    return absl::UnauthenticatedError("RS256 signature length does not match the key");
  }
  MdCtxPtr md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // Owned by md.
  if (md == nullptr ||
      EVP_DigestVerifyInit(md.get(), &pctx, EVP_sha256(), nullptr, pkey.get()) != 1) {
    return absl::InternalError("cannot initialise verification");
  }
  if (*key_alg == Alg::kRS256 && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
    return absl::InternalError("cannot select RSASSA-PKCS1-v1_5");
  }
  if (EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(sig->data()), sig->size(),
                       reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size()) != 1) {
    return absl::UnauthenticatedError("JWS signature does not verify");
  }

  // Claims.
  std::optional<std::string> claims_json = Base64UrlDecode(claims_b64);
  if (!claims_json.has_value()) return absl::InvalidArgumentError("JWT claims are not base64url");
  if (!ParseJsonObject(*claims_json).has_value()) {
    return absl::InvalidArgumentError("JWT claims are not a JSON object (with unique member names)");
  }
  out.header_json = std::move(*header_json);
  out.claims_json = std::move(*claims_json);
  return out;
}

// ---------------------------------------------------------------------------
// Builders.

absl::StatusOr<std::string> MakeApnsJwt(const SigningKey& key, absl::string_view key_id,
                                        absl::string_view team_id, int64_t iat) {
  if (!key.is_ec_p256()) return absl::InvalidArgumentError("APNs tokens need an EC P-256 key");
  if (absl::Status s = RequireNonEmpty(key_id, "APNs key id"); !s.ok()) return s;
  if (absl::Status s = RequireNonEmpty(team_id, "APNs team id"); !s.ok()) return s;
  std::optional<std::string> header = JsonObject().Str("alg", "ES256").Str("kid", key_id).Finish();
  std::optional<std::string> claims = JsonObject().Str("iss", team_id).Int("iat", iat).Finish();
  if (!header.has_value() || !claims.has_value()) {
    return absl::InvalidArgumentError("APNs key id / team id must be valid UTF-8");
  }
  return SignJwt(key, *header, *claims);
}

absl::StatusOr<std::string> MakeGoogleOAuthJwt(const SigningKey& key,
                                               absl::string_view client_email,
                                               absl::string_view scope,
                                               absl::string_view token_uri, int64_t iat,
                                               int64_t exp) {
  if (!key.is_rsa()) return absl::InvalidArgumentError("Google OAuth assertions need an RSA key");
  if (absl::Status s = RequireNonEmpty(client_email, "client_email"); !s.ok()) return s;
  if (absl::Status s = RequireNonEmpty(scope, "scope"); !s.ok()) return s;
  if (absl::Status s = RequireNonEmpty(token_uri, "token_uri"); !s.ok()) return s;
  if (exp <= iat || exp - iat > 3600) {
    return absl::InvalidArgumentError("Google OAuth assertion needs iat < exp <= iat + 3600");
  }
  std::optional<std::string> header = JsonObject().Str("alg", "RS256").Str("typ", "JWT").Finish();
  std::optional<std::string> claims = JsonObject()
                                          .Str("iss", client_email)
                                          .Str("scope", scope)
                                          .Str("aud", token_uri)
                                          .Int("iat", iat)
                                          .Int("exp", exp)
                                          .Finish();
  if (!header.has_value() || !claims.has_value()) {
    return absl::InvalidArgumentError("client_email / scope / token_uri must be valid UTF-8");
  }
  return SignJwt(key, *header, *claims);
}

absl::StatusOr<std::string> MakeVapidJwt(const SigningKey& key, absl::string_view audience,
                                         int64_t exp, absl::string_view subject) {
  if (!key.is_ec_p256()) return absl::InvalidArgumentError("VAPID needs an EC P-256 key");
  if (absl::Status s = RequireNonEmpty(audience, "VAPID audience"); !s.ok()) return s;
  if (absl::Status s = RequireNonEmpty(subject, "VAPID subject"); !s.ok()) return s;
  std::optional<std::string> header = JsonObject().Str("typ", "JWT").Str("alg", "ES256").Finish();
  std::optional<std::string> claims =
      JsonObject().Str("aud", audience).Int("exp", exp).Str("sub", subject).Finish();
  if (!header.has_value() || !claims.has_value()) {
    return absl::InvalidArgumentError("VAPID audience / subject must be valid UTF-8");
  }
  return SignJwt(key, *header, *claims);
}

}  // namespace herald::providers
