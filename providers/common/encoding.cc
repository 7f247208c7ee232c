#include "providers/common/encoding.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"

// Abseil does the decoding and encoding. Its decoders are more lenient than
// push keys need: they skip whitespace and keep non-zero unused trailing bits.
// The checks here give the strictness each caller documents in encoding.h.
namespace herald::providers {
namespace {

enum class Alphabet { kStandard, kUrl, kEither };

bool InAlphabet(char c, Alphabet alphabet) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  switch (alphabet) {
    case Alphabet::kStandard:
      return c == '+' || c == '/';
    case Alphabet::kUrl:
      return c == '-' || c == '_';
    case Alphabet::kEither:
      return c == '+' || c == '/' || c == '-' || c == '_';
  }
  return false;
}

// The text without its '=' padding, or nullopt when a character is outside the
// alphabet, the padding does not complete the last quantum exactly, or the
// length cannot encode whole bytes.
std::optional<absl::string_view> Unpadded(absl::string_view text, Alphabet alphabet) {
  absl::string_view body = text;
  size_t pad = 0;
  while (!body.empty() && body.back() == '=') {
    body.remove_suffix(1);
    ++pad;
  }
  if (pad > 0 && (pad > 2 || text.size() % 4 != 0)) return std::nullopt;
  if (body.size() % 4 == 1) return std::nullopt;
  for (char c : body) {
    if (!InAlphabet(c, alphabet)) return std::nullopt;
  }
  return body;
}

// Canonical means the unused trailing bits are zero: the bytes encode back to
// the same text.
std::optional<std::string> CanonicalOnly(std::string bytes, absl::string_view body,
                                         Alphabet alphabet) {
  const std::string again =
      alphabet == Alphabet::kUrl ? absl::WebSafeBase64Escape(bytes) : absl::Base64Escape(bytes);
  absl::string_view again_body(again);
  while (!again_body.empty() && again_body.back() == '=') again_body.remove_suffix(1);
  if (again_body != body) return std::nullopt;
  return bytes;
}

}  // namespace

std::string Base64UrlEncode(absl::string_view bytes) { return absl::WebSafeBase64Escape(bytes); }

std::optional<std::string> Base64UrlDecode(absl::string_view text) {
  std::optional<absl::string_view> body = Unpadded(text, Alphabet::kUrl);
  std::string bytes;
  if (!body.has_value() || !absl::WebSafeBase64Unescape(*body, &bytes)) return std::nullopt;
  return CanonicalOnly(std::move(bytes), *body, Alphabet::kUrl);
}

std::optional<std::string> Base64Decode(absl::string_view text) {
  std::optional<absl::string_view> body = Unpadded(text, Alphabet::kStandard);
  std::string bytes;
  if (!body.has_value() || !absl::Base64Unescape(*body, &bytes)) return std::nullopt;
  return CanonicalOnly(std::move(bytes), *body, Alphabet::kStandard);
}

std::optional<std::string> Base64DecodeAnyAlphabet(absl::string_view text) {
  std::optional<absl::string_view> body = Unpadded(text, Alphabet::kEither);
  if (!body.has_value()) return std::nullopt;
  std::string standard(*body);
  for (char& c : standard) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  std::string bytes;
  if (!absl::Base64Unescape(standard, &bytes)) return std::nullopt;
  return bytes;
}

std::string HexEncode(absl::string_view bytes) { return absl::BytesToHexString(bytes); }

}  // namespace herald::providers
