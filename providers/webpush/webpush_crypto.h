// Web Push message encryption (RFC 8291) with the "aes128gcm" content coding
// (RFC 8188), ECDH on P-256.
//
// Pure library: no network, no logging. Error messages never contain key
// material. Every function leaves OpenSSL's thread-local error queue empty.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace herald::providers::webpush {

struct EncryptInputs {
  // The push message (for Herald: the JSON payload).
  std::string plaintext;
  // The subscription's "p256dh" key, decoded: 65-byte uncompressed P-256
  // point (0x04 || X || Y).
  std::string ua_public;
  // The subscription's "auth" secret, decoded: 16 bytes.
  std::string auth_secret;
  // For tests only: fixed sender (application server) private scalar (32
  // bytes, big-endian) and salt (16 bytes); empty = fresh random ones for
  // every message.
  std::string as_private_scalar;
  std::string salt;
  // Record size written in the header (RFC 8188 "rs"); the one record
  // (plaintext + delimiter + padding + 16-byte tag) must fit in it. >= 18.
  uint32_t record_size = 4096;
  // Padding: the record plaintext (plaintext || 0x02 || zeros) is made at
  // least this many bytes long with zeros after the 0x02 delimiter. 0 (or any
  // value <= plaintext.size() + 1) = no padding.
  size_t pad_to = 0;
};

// RFC 8291 aes128gcm body: salt(16) | rs (uint32 BE) | idlen(1)=65 |
// as_public(65) | ciphertext (+16-byte tag). One record.
// Errors: InvalidArgumentError only when the subscription is unusable
// (ua_public not a valid uncompressed P-256 point, auth_secret not 16 bytes);
// FailedPreconditionError for the caller's own inputs (bad test key/salt,
// record_size < 18, the record does not fit record_size); InternalError on
// OpenSSL failure. Only the first is the pushkey's fault.
absl::StatusOr<std::string> EncryptAes128Gcm(const EncryptInputs& in);

// The inverse (used by tests and usable by a fake push service): given the
// receiver's 32-byte private scalar and 16-byte auth secret, returns the
// plaintext (delimiter and padding removed). Only single-record bodies are
// accepted. InvalidArgumentError for a malformed header, bad keys, a failed
// authentication tag or bad padding.
absl::StatusOr<std::string> DecryptAes128Gcm(absl::string_view body,
                                             absl::string_view ua_private_scalar,
                                             absl::string_view auth_secret);

// Header (86) + tag (16) + delimiter (1).
inline constexpr size_t kAes128GcmHeaderSize = 16 + 4 + 1 + 65;
inline constexpr size_t kAes128GcmOverhead = 86 + 16 + 1;
static_assert(kAes128GcmOverhead == kAes128GcmHeaderSize + 16 + 1);

// Building blocks, exposed for the RFC 8291 appendix A test vectors.
namespace internal {

// ECDH on P-256: the 32-byte shared X coordinate of private_scalar * peer.
// `peer_public` is a 65-byte uncompressed point.
absl::StatusOr<std::string> EcdhP256(absl::string_view private_scalar,
                                     absl::string_view peer_public);

struct ContentKeys {
  std::string cek;    // 16 bytes
  std::string nonce;  // 12 bytes
};

// RFC 8291 §3.3/§3.4 key schedule (no input validation beyond sizes).
ContentKeys DeriveContentKeys(absl::string_view ecdh_secret, absl::string_view auth_secret,
                              absl::string_view ua_public, absl::string_view as_public,
                              absl::string_view salt);

}  // namespace internal
}  // namespace herald::providers::webpush
