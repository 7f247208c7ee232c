#include "providers/webpush/webpush_crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "providers/common/signing_key.h"

namespace herald::providers::webpush {
namespace {

constexpr size_t kSaltSize = 16;
constexpr size_t kAuthSecretSize = 16;
constexpr size_t kPublicKeySize = 65;
constexpr size_t kTagSize = 16;
constexpr size_t kCekSize = 16;
constexpr size_t kNonceSize = 12;
// RFC 8188 §2: rs must be greater than 17 (tag + at least one byte).
constexpr uint32_t kMinRecordSize = 18;
constexpr unsigned char kLastRecordDelimiter = 0x02;

// ---------------------------------------------------------------------------
// OpenSSL plumbing.

struct ClearOpensslErrorsOnExit {
  ~ClearOpensslErrorsOnExit() { ERR_clear_error(); }
};

// Wipes a string holding secret material when it goes out of scope.
struct Wipe {
  std::string* s;
  ~Wipe() {
    if (!s->empty()) OPENSSL_cleanse(s->data(), s->size());
  }
};

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

const unsigned char* U8(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* U8(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

// A public P-256 key from a 65-byte uncompressed point; the point must be on
// the curve. `what` names the key in error messages.
absl::StatusOr<PkeyPtr> ParsePublicKey(absl::string_view point, absl::string_view what) {
  const std::string invalid = absl::StrCat(what, " is not a valid P-256 public key");
  if (point.size() != kPublicKeySize || static_cast<unsigned char>(point[0]) != 0x04) {
    return absl::InvalidArgumentError(absl::StrCat(
        invalid, " (expected a 65-byte uncompressed point, got ", point.size(), " bytes)"));
  }
  std::string copy(point);
  char group[] = "P-256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, copy.data(), copy.size()),
      OSSL_PARAM_construct_end(),
  };
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1) {
    return absl::InternalError("OpenSSL EC context setup failed");
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) != 1 || raw == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(invalid, " (point not on the curve)"));
  }
  PkeyPtr key(raw);
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  // P-256 has cofactor 1: a point on the curve is in the right group, so the
  // quick check suffices. The full check multiplies by the group order on
  // OpenSSL's slow generic path and cost more than the whole encryption.
  if (check == nullptr || EVP_PKEY_public_check_quick(check.get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(invalid, " (point not on the curve)"));
  }
  return key;
}

// The uncompressed public point of an EC P-256 key.
absl::StatusOr<std::string> PublicPoint(EVP_PKEY* key) {
  std::string out(kPublicKeySize, '\0');
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, U8(out), out.size(),
                                      &len) != 1 ||
      len != kPublicKeySize || static_cast<unsigned char>(out[0]) != 0x04) {
    return absl::InternalError("cannot encode the P-256 public key");
  }
  return out;
}

absl::StatusOr<PkeyPtr> GenerateP256Key() {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256") != 1 ||
      EVP_PKEY_keygen(ctx.get(), &raw) != 1 || raw == nullptr) {
    return absl::InternalError("P-256 key generation failed");
  }
  return PkeyPtr(raw);
}

absl::StatusOr<std::string> Derive(EVP_PKEY* own, EVP_PKEY* peer) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, own, nullptr));
  size_t len = 0;
  if (ctx == nullptr || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      // The peer was checked when it was parsed (see above); 0 = skip the
      // full, slow validation set_peer would repeat.
      EVP_PKEY_derive_set_peer_ex(ctx.get(), peer, 0) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1 || len != 32) {
    return absl::InternalError("ECDH key agreement failed");
  }
  std::string secret(len, '\0');
  if (EVP_PKEY_derive(ctx.get(), U8(secret), &len) != 1 || len != 32) {
    OPENSSL_cleanse(secret.data(), secret.size());
    return absl::InternalError("ECDH key agreement failed");
  }
  return secret;
}

std::string HmacSha256(absl::string_view key, absl::string_view data) {
  std::string out(32, '\0');
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), U8(data), data.size(), U8(out),
           &len) == nullptr ||
      len != 32) {
    return std::string();  // Only on allocation failure; callers check sizes.
  }
  return out;
}

// HKDF-Expand for a single block (L <= 32): HMAC(prk, info || 0x01)[0..L].
std::string HkdfExpand1(absl::string_view prk, absl::string_view info, size_t length) {
  std::string t = HmacSha256(prk, absl::StrCat(info, absl::string_view("\x01", 1)));
  if (t.size() < length) return std::string();
  t.resize(length);
  return t;
}

absl::StatusOr<std::string> AesGcmSeal(absl::string_view key, absl::string_view nonce,
                                       absl::string_view plaintext) {
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  std::string out(plaintext.size() + kTagSize, '\0');
  int len = 0;
  int total = 0;
  if (ctx == nullptr ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()),
                          nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, U8(key), U8(nonce)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), U8(out), &len, U8(plaintext),
                        static_cast<int>(plaintext.size())) != 1) {
    return absl::InternalError("AES-128-GCM encryption failed");
  }
  total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), U8(out) + total, &len) != 1) {
    return absl::InternalError("AES-128-GCM encryption failed");
  }
  total += len;
  if (static_cast<size_t>(total) != plaintext.size() ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize),
                          U8(out) + total) != 1) {
    return absl::InternalError("AES-128-GCM encryption failed");
  }
  return out;
}

absl::StatusOr<std::string> AesGcmOpen(absl::string_view key, absl::string_view nonce,
                                       absl::string_view sealed) {
  if (sealed.size() < kTagSize) return absl::InvalidArgumentError("ciphertext too short");
  const absl::string_view ciphertext = sealed.substr(0, sealed.size() - kTagSize);
  std::string tag(sealed.substr(sealed.size() - kTagSize));
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  std::string out(ciphertext.size(), '\0');
  int len = 0;
  if (ctx == nullptr ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_128_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()),
                          nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, U8(key), U8(nonce)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), U8(out), &len, U8(ciphertext),
                        static_cast<int>(ciphertext.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize),
                          tag.data()) != 1) {
    return absl::InternalError("AES-128-GCM decryption failed");
  }
  int total = len;
  if (EVP_DecryptFinal_ex(ctx.get(), U8(out) + total, &len) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return absl::InvalidArgumentError(
        "decryption failed: authentication tag mismatch (wrong keys or tampered body)");
  }
  total += len;
  out.resize(static_cast<size_t>(total));
  return out;
}

absl::Status CheckAuthSecret(absl::string_view auth_secret) {
  if (auth_secret.size() != kAuthSecretSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("auth secret must be ", kAuthSecretSize, " bytes, got ", auth_secret.size()));
  }
  return absl::OkStatus();
}

void AppendUint32Be(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>((v >> 24) & 0xFF));
  out.push_back(static_cast<char>((v >> 16) & 0xFF));
  out.push_back(static_cast<char>((v >> 8) & 0xFF));
  out.push_back(static_cast<char>(v & 0xFF));
}

}  // namespace

namespace internal {

absl::StatusOr<std::string> EcdhP256(absl::string_view private_scalar,
                                     absl::string_view peer_public) {
  ClearOpensslErrorsOnExit clear_errors;
  absl::StatusOr<SigningKey> own = SigningKey::FromP256PrivateScalar(private_scalar);
  if (!own.ok()) return own.status();
  absl::StatusOr<PkeyPtr> peer = ParsePublicKey(peer_public, "peer key");
  if (!peer.ok()) return peer.status();
  return Derive(own->get(), peer->get());
}

ContentKeys DeriveContentKeys(absl::string_view ecdh_secret, absl::string_view auth_secret,
                              absl::string_view ua_public, absl::string_view as_public,
                              absl::string_view salt) {
  ClearOpensslErrorsOnExit clear_errors;
  // RFC 8291 §3.3: combine the ECDH secret with the auth secret.
  std::string prk_key = HmacSha256(auth_secret, ecdh_secret);
  Wipe wipe_prk_key{&prk_key};
  const std::string key_info =
      absl::StrCat(absl::string_view("WebPush: info\0", 14), ua_public, as_public);
  std::string ikm = HkdfExpand1(prk_key, key_info, 32);
  Wipe wipe_ikm{&ikm};
  // RFC 8188 §2.2/§2.3 (via RFC 8291 §3.4): CEK and nonce from the salt.
  std::string prk = HmacSha256(salt, ikm);
  Wipe wipe_prk{&prk};
  ContentKeys keys;
  keys.cek = HkdfExpand1(prk, absl::string_view("Content-Encoding: aes128gcm\0", 28), kCekSize);
  keys.nonce = HkdfExpand1(prk, absl::string_view("Content-Encoding: nonce\0", 24), kNonceSize);
  return keys;
}

}  // namespace internal

absl::StatusOr<std::string> EncryptAes128Gcm(const EncryptInputs& in) {
  ClearOpensslErrorsOnExit clear_errors;
  if (absl::Status s = CheckAuthSecret(in.auth_secret); !s.ok()) return s;
  absl::StatusOr<PkeyPtr> ua_key = ParsePublicKey(in.ua_public, "p256dh");
  if (!ua_key.ok()) return ua_key.status();
  if (in.record_size < kMinRecordSize) {
    return absl::FailedPreconditionError(
        absl::StrCat("record size must be at least ", kMinRecordSize, ", got ", in.record_size));
  }
  // One record: plaintext || 0x02 || padding, then the tag, within rs.
  const size_t max_record_plaintext = in.record_size - kTagSize;
  if (in.plaintext.size() >= max_record_plaintext) {
    return absl::FailedPreconditionError(absl::StrCat("payload too large: ", in.plaintext.size(),
                                                      " bytes, at most ", max_record_plaintext - 1,
                                                      " fit in a record of ", in.record_size));
  }
  if (in.pad_to > max_record_plaintext) {
    return absl::FailedPreconditionError(
        absl::StrCat("padding to ", in.pad_to, " bytes does not fit a record of ", in.record_size,
                     " (at most ", max_record_plaintext, ")"));
  }

  std::string salt = in.salt;
  if (salt.empty()) {
    salt.assign(kSaltSize, '\0');
    if (RAND_bytes(U8(salt), static_cast<int>(salt.size())) != 1) {
      return absl::InternalError("RAND_bytes failed");
    }
  } else if (salt.size() != kSaltSize) {
    return absl::FailedPreconditionError(
        absl::StrCat("salt must be ", kSaltSize, " bytes, got ", salt.size()));
  }

  // Sender key: fixed (tests) or fresh for every message.
  PkeyPtr fresh;
  std::optional<SigningKey> fixed;
  EVP_PKEY* as_key = nullptr;
  std::string as_public;
  if (in.as_private_scalar.empty()) {
    absl::StatusOr<PkeyPtr> generated = GenerateP256Key();
    if (!generated.ok()) return generated.status();
    fresh = std::move(*generated);
    as_key = fresh.get();
    absl::StatusOr<std::string> pub = PublicPoint(as_key);
    if (!pub.ok()) return pub.status();
    as_public = std::move(*pub);
  } else {
    absl::StatusOr<SigningKey> key = SigningKey::FromP256PrivateScalar(in.as_private_scalar);
    if (!key.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("sender private key: ", key.status().message()));
    }
    fixed = std::move(*key);
    as_key = fixed->get();
    as_public = fixed->PublicKeyUncompressed();
    if (as_public.size() != kPublicKeySize) {
      return absl::InternalError("cannot encode the P-256 public key");
    }
  }

  absl::StatusOr<std::string> ecdh = Derive(as_key, ua_key->get());
  if (!ecdh.ok()) return ecdh.status();
  Wipe wipe_ecdh{&*ecdh};
  internal::ContentKeys keys =
      internal::DeriveContentKeys(*ecdh, in.auth_secret, in.ua_public, as_public, salt);
  Wipe wipe_cek{&keys.cek};
  if (keys.cek.size() != kCekSize || keys.nonce.size() != kNonceSize) {
    return absl::InternalError("HMAC-SHA-256 failed");
  }

  std::string record;
  record.reserve(std::max(in.plaintext.size() + 1, in.pad_to));
  record.append(in.plaintext);
  record.push_back(static_cast<char>(kLastRecordDelimiter));
  if (record.size() < in.pad_to) record.resize(in.pad_to, '\0');
  Wipe wipe_record{&record};

  absl::StatusOr<std::string> sealed = AesGcmSeal(keys.cek, keys.nonce, record);
  if (!sealed.ok()) return sealed.status();

  std::string body;
  body.reserve(kAes128GcmHeaderSize + sealed->size());
  body.append(salt);
  AppendUint32Be(body, in.record_size);
  body.push_back(static_cast<char>(kPublicKeySize));
  body.append(as_public);
  body.append(*sealed);
  return body;
}

absl::StatusOr<std::string> DecryptAes128Gcm(absl::string_view body,
                                             absl::string_view ua_private_scalar,
                                             absl::string_view auth_secret) {
  ClearOpensslErrorsOnExit clear_errors;
  if (absl::Status s = CheckAuthSecret(auth_secret); !s.ok()) return s;
  if (body.size() < kSaltSize + 4 + 1) {
    return absl::InvalidArgumentError("aes128gcm body shorter than its header");
  }
  const absl::string_view salt = body.substr(0, kSaltSize);
  const auto byte = [&](size_t i) {
    return static_cast<uint32_t>(static_cast<unsigned char>(body[i]));
  };
  const uint32_t rs = (byte(16) << 24) | (byte(17) << 16) | (byte(18) << 8) | byte(19);
  const size_t idlen = byte(20);
  if (idlen != kPublicKeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("aes128gcm key id must be a 65-byte P-256 public key, got idlen ", idlen));
  }
  if (body.size() < kAes128GcmHeaderSize) {
    return absl::InvalidArgumentError("aes128gcm body shorter than its header");
  }
  if (rs < kMinRecordSize) {
    return absl::InvalidArgumentError(absl::StrCat("aes128gcm record size ", rs, " is below 18"));
  }
  const absl::string_view as_public = body.substr(21, kPublicKeySize);
  const absl::string_view sealed = body.substr(kAes128GcmHeaderSize);
  if (sealed.size() < kTagSize + 1) {
    return absl::InvalidArgumentError("aes128gcm record too short");
  }
  if (sealed.size() > rs) {
    return absl::InvalidArgumentError(absl::StrCat("aes128gcm body has more than one record (",
                                                   sealed.size(), " bytes > rs ", rs,
                                                   "); only single-record messages are supported"));
  }

  absl::StatusOr<SigningKey> ua_key = SigningKey::FromP256PrivateScalar(ua_private_scalar);
  if (!ua_key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("receiver private key: ", ua_key.status().message()));
  }
  const std::string ua_public = ua_key->PublicKeyUncompressed();
  if (ua_public.size() != kPublicKeySize) {
    return absl::InternalError("cannot encode the P-256 public key");
  }
  absl::StatusOr<PkeyPtr> as_key = ParsePublicKey(as_public, "sender key (key id)");
  if (!as_key.ok()) return as_key.status();

  absl::StatusOr<std::string> ecdh = Derive(ua_key->get(), as_key->get());
  if (!ecdh.ok()) return ecdh.status();
  Wipe wipe_ecdh{&*ecdh};
  internal::ContentKeys keys =
      internal::DeriveContentKeys(*ecdh, auth_secret, ua_public, as_public, salt);
  Wipe wipe_cek{&keys.cek};
  if (keys.cek.size() != kCekSize || keys.nonce.size() != kNonceSize) {
    return absl::InternalError("HMAC-SHA-256 failed");
  }

  absl::StatusOr<std::string> record = AesGcmOpen(keys.cek, keys.nonce, sealed);
  if (!record.ok()) return record.status();
  // Strip the padding: zeros after the last non-zero byte, which must be the
  // last-record delimiter (RFC 8188 §2).
  size_t end = record->size();
  while (end > 0 && (*record)[end - 1] == '\0') --end;
  if (end == 0) {
    return absl::InvalidArgumentError("aes128gcm record has no padding delimiter");
  }
  if (static_cast<unsigned char>((*record)[end - 1]) != kLastRecordDelimiter) {
    return absl::InvalidArgumentError(
        "aes128gcm record delimiter is not 0x02 (not the last record)");
  }
  record->resize(end - 1);
  return std::move(*record);
}

}  // namespace herald::providers::webpush
