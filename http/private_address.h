// Which addresses a push to a public endpoint must never reach.
#pragma once

#include "absl/strings/string_view.h"

namespace herald::http {

// True for addresses a public push endpoint must never resolve to: loopback,
// RFC 1918, CGNAT, link-local, unique-local, multicast, unspecified, ...
// `ip` is a textual IPv4 or IPv6 address; anything unparsable counts as
// private (refuse when unsure).
bool IsPrivateAddress(absl::string_view ip);

}  // namespace herald::http
