// Shell-style glob matching for app ids and endpoint hosts.
#pragma once

#include "absl/strings/string_view.h"

namespace herald {

// `*` matches any run of characters (also empty), `?` exactly one character;
// everything else matches itself. Case-sensitive; the whole text must match.
bool GlobMatch(absl::string_view pattern, absl::string_view text);

// True when the pattern contains a wildcard.
bool IsGlob(absl::string_view pattern);

}  // namespace herald
