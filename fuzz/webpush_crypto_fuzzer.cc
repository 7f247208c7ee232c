// Web Push encryption (RFC 8291): any body decrypts or fails cleanly, and
// any payload that fits encrypts to a body that decrypts back to it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "providers/common/encoding.h"
#include "providers/webpush/webpush_crypto.h"

namespace {

// RFC 8291 appendix A's receiver.
std::string D(const char* b64url) { return *herald::providers::Base64UrlDecode(b64url); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string ua_private = D("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94");
  static const std::string ua_public =
      D("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4");
  static const std::string auth = D("BTBZMqHH6r4Tts7J_aSIgg");
  const std::string input(reinterpret_cast<const char*>(data), size);
  (void)herald::providers::webpush::DecryptAes128Gcm(input, ua_private, auth);
  if (input.size() <= 3993) {
    herald::providers::webpush::EncryptInputs in;
    in.plaintext = input;
    in.ua_public = ua_public;
    in.auth_secret = auth;
    auto body = herald::providers::webpush::EncryptAes128Gcm(in);
    if (!body.ok() || body->size() > 4096) std::abort();
    auto back = herald::providers::webpush::DecryptAes128Gcm(*body, ua_private, auth);
    if (!back.ok() || *back != input) std::abort();
  }
  return 0;
}
