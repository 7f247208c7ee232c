#include "providers/common/encoding.h"

#include <array>
#include <cstdint>

namespace herald::providers {
namespace {

constexpr char kStdAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct DecodeTable {
  std::array<int8_t, 256> value{};
  constexpr explicit DecodeTable(const char* alphabet) {
    for (auto& v : value) v = -1;
    for (int i = 0; i < 64; ++i) value[static_cast<unsigned char>(alphabet[i])] = i;
  }
};
constexpr DecodeTable kStdTable(kStdAlphabet);
constexpr DecodeTable kUrlTable(kUrlAlphabet);

constexpr DecodeTable AnyTable() {
  DecodeTable t(kStdAlphabet);
  t.value['-'] = 62;
  t.value['_'] = 63;
  return t;
}
constexpr DecodeTable kAnyTable = AnyTable();

std::string EncodeBase64(absl::string_view bytes, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = (uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                 (uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8) |
                 uint32_t{static_cast<unsigned char>(bytes[i + 2])};
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    out.push_back(alphabet[(n >> 6) & 63]);
    out.push_back(alphabet[n & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t n = uint32_t{static_cast<unsigned char>(bytes[i])} << 16;
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    if (pad) out.append("==");
  } else if (rest == 2) {
    uint32_t n = (uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                 (uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8);
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    out.push_back(alphabet[(n >> 6) & 63]);
    if (pad) out.push_back('=');
  }
  return out;
}

std::optional<std::string> DecodeBase64(absl::string_view text, const DecodeTable& table,
                                        bool canonical = true) {
  size_t len = text.size();
  size_t pad = 0;
  while (len > 0 && text[len - 1] == '=') {
    --len;
    ++pad;
  }
  // Padding, when present, must complete the last quantum exactly.
  if (pad > 0 && (pad > 2 || text.size() % 4 != 0)) return std::nullopt;
  // One leftover character cannot encode a byte.
  if (len % 4 == 1) return std::nullopt;

  std::string out;
  out.reserve(len / 4 * 3 + 2);
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < len; ++i) {
    const int v = table.value[static_cast<unsigned char>(text[i])];
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
      buffer &= (1u << bits) - 1;
    }
  }
  // Unused trailing bits must be zero (canonical encoding only).
  if (canonical && buffer != 0) return std::nullopt;
  return out;
}

}  // namespace

std::string Base64UrlEncode(absl::string_view bytes) {
  return EncodeBase64(bytes, kUrlAlphabet, /*pad=*/false);
}

std::optional<std::string> Base64UrlDecode(absl::string_view text) {
  return DecodeBase64(text, kUrlTable);
}

std::optional<std::string> Base64Decode(absl::string_view text) {
  return DecodeBase64(text, kStdTable);
}

std::optional<std::string> Base64DecodeAnyAlphabet(absl::string_view text) {
  return DecodeBase64(text, kAnyTable, /*canonical=*/false);
}

std::string HexEncode(absl::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

}  // namespace herald::providers
