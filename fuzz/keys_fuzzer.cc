// PEM and key loading: any text is a key or a clear error, and a key that
// loads can sign.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "providers/apns/apns_token.h"
#include "providers/common/signing_key.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string pem(reinterpret_cast<const char*>(data), size);
  auto key = herald::providers::SigningKey::FromPem(pem);
  if (!key.ok()) return 0;
  if (key->is_ec_p256()) {
    if (!herald::providers::apns::MakeApnsJwt(*key, "KEYID", "TEAM", 1700000000).ok()) std::abort();
  }
  return 0;
}
