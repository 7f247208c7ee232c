#include "providers/apns/apns_token.h"

#include <optional>

#include "providers/common/jws.h"

namespace herald::providers::apns {

absl::StatusOr<std::string> MakeApnsJwt(const SigningKey& key, absl::string_view key_id,
                                        absl::string_view team_id, int64_t iat) {
  if (!key.is_ec_p256()) return absl::InvalidArgumentError("APNs tokens need an EC P-256 key");
  if (absl::Status s = RequireNonEmpty(key_id, "APNs key id"); !s.ok()) return s;
  if (absl::Status s = RequireNonEmpty(team_id, "APNs team id"); !s.ok()) return s;
  std::optional<std::string> header = JoseObject().Str("alg", "ES256").Str("kid", key_id).Finish();
  std::optional<std::string> claims = JoseObject().Str("iss", team_id).Int("iat", iat).Finish();
  if (!header.has_value() || !claims.has_value()) {
    return absl::InvalidArgumentError("APNs key id / team id must be valid UTF-8");
  }
  return SignJwt(key, *header, *claims);
}

}  // namespace herald::providers::apns
