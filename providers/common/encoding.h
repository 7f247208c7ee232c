// Base64, base64url and hex, as push providers and their clients write them.
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace herald::providers {

// Base64url (RFC 4648 §5) without '=' padding.
std::string Base64UrlEncode(absl::string_view bytes);
// Base64url with or without '=' padding (padding, when present, must be
// complete: "QQ" and "QQ==" decode, "QQ=" does not). nullopt on any character
// outside the alphabet (including '+', '/', whitespace), on an impossible
// length, or on non-zero unused trailing bits (non-canonical encoding).
std::optional<std::string> Base64UrlDecode(absl::string_view text);
// Standard base64 (RFC 4648 §4), with the same strictness rules as
// Base64UrlDecode ('-' and '_' are rejected here; padding is optional).
std::optional<std::string> Base64Decode(absl::string_view text);
// Either alphabet (even mixed), padded or not, and non-zero unused trailing
// bits ignored: what clients send as Web Push keys and APNs tokens, and what
// Sygnal (Python's base64, pywebpush) accepted.
std::optional<std::string> Base64DecodeAnyAlphabet(absl::string_view text);
// Lowercase hex.
std::string HexEncode(absl::string_view bytes);

}  // namespace herald::providers
