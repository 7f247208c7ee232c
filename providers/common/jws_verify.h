// Checking a JWS signature: for tests (the fake push services check tokens
// themselves), never linked into the services.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace herald::providers {

struct VerifiedJwt {
  std::string header_json;
  std::string claims_json;
};

// Checks the signature of a compact JWS. `public_key_pem` is a
// SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY") or a private key PEM (its
// public half is used); it must be EC P-256 or RSA >= 2048. The header's
// "alg" must be the key's algorithm (ES256 / RS256; never "none"), and a
// header with "crit" is rejected (no extensions are understood). Header and
// claims must be JSON objects. Claims are NOT validated (no exp/iat/aud
// checks). Errors: InvalidArgumentError for a malformed token or unusable
// key, UnauthenticatedError when the signature does not verify.
absl::StatusOr<VerifiedJwt> VerifyJwt(absl::string_view jwt, absl::string_view public_key_pem);

}  // namespace herald::providers
