// The APNs provider token (a JWT signed with the team's key).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "providers/common/signing_key.h"

namespace herald::providers::apns {

// APNs provider token: header {"alg":"ES256","kid":KEY_ID}, claims
// {"iss":TEAM_ID,"iat":IAT}. Needs an EC P-256 key; key_id and team_id must
// be non-empty.
absl::StatusOr<std::string> MakeApnsJwt(const SigningKey& key, absl::string_view key_id,
                                        absl::string_view team_id, int64_t iat);

}  // namespace herald::providers::apns
