// UTF-8 helpers for the payload builders that cut text to a number of
// characters or bytes (APNs, FCM, Web Push).
#pragma once

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace herald::providers {

inline constexpr absl::string_view kEllipsis = "\xE2\x80\xA6";  // U+2026 "…"

inline bool IsUtf8Continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// At most `max_chars` characters (code points) of `s`, never splitting one.
inline std::string CutToChars(absl::string_view s, size_t max_chars) {
  size_t count = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (IsUtf8Continuation(s[i])) continue;
    if (count == max_chars) return std::string(s.substr(0, i));
    ++count;
  }
  return std::string(s);
}

}  // namespace herald::providers
