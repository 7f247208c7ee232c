// JWS compact signing (RFC 7515/7518) with a SigningKey, and the small JSON
// object writer the token builders (APNs, Google OAuth, VAPID: in their
// providers) fill their headers and claims with.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "providers/common/signing_key.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace herald::providers {

// JWS compact serialization BASE64URL(header) "." BASE64URL(claims) "."
// BASE64URL(signature). `header_json` and `claims_json` are encoded exactly as
// given. The algorithm follows the key: EC P-256 → ES256 (signature is the
// 64-byte r || s, each left-padded to 32 bytes, not DER); RSA → RS256
// (RSASSA-PKCS1-v1_5 with SHA-256). InvalidArgumentError when `header_json` is
// not a JSON object whose "alg" names that algorithm (a token with another
// "alg" could never verify).
absl::StatusOr<std::string> SignJwt(const SigningKey& key, absl::string_view header_json,
                                    absl::string_view claims_json);

// Writes one flat JSON object, member by member, in call order: a JOSE
// header or claims set.
class JoseObject {
 public:
  JoseObject() { ok_ = writer_.StartObject(); }
  JoseObject& Str(const char* key, absl::string_view value);
  JoseObject& Int(const char* key, int64_t value);
  // nullopt when a value was not valid UTF-8.
  std::optional<std::string> Finish();

 private:
  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::UTF8<>,
                    rapidjson::CrtAllocator, rapidjson::kWriteValidateEncodingFlag>
      writer_{buffer_};
  bool ok_ = false;
};

// InvalidArgumentError "<what> must not be empty" when `value` is.
absl::Status RequireNonEmpty(absl::string_view value, absl::string_view what);

}  // namespace herald::providers
