// Parsing of the Matrix Push Gateway request body
// (POST /_matrix/push/v1/notify) into the herald.v1 contract.
//
// Pure: no I/O, no logging. The HTTP layer maps a NotifyError to a
// `400 {"errcode": ErrCode(code), "error": message}` answer.

#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "proto/herald/v1/herald.pb.h"

namespace herald::bridge {

enum class NotifyErrorCode {
  // The body is not UTF-8 JSON at all.
  kNotJson,
  // The body is JSON but not of the shape the Push Gateway API requires.
  kBadJson,
};

// The Matrix errcode for `code`: "M_NOT_JSON" or "M_BAD_JSON".
const char* ErrCode(NotifyErrorCode code);

struct NotifyError {
  NotifyErrorCode code;
  // Human-readable, names the offending field (e.g.
  // "notification.devices[2].pushkey must be a non-empty string"). Never
  // holds values from the body: a pushkey is a credential of sorts.
  std::string message;
};

// Deepest nesting of arrays/objects accepted in a body. Real bodies nest a
// handful of levels; the bound keeps hostile bodies from exhausting the stack
// of code that walks the JSON recursively (here and in the providers, which
// re-parse `data`, `tweaks` and `content`).
inline constexpr int kMaxNotifyJsonDepth = 256;

// Parses the body of POST /_matrix/push/v1/notify into `out`. Returns nullopt
// on success; on error returns the error and leaves `out` untouched.
//
// Unknown fields (including Synapse's deprecated `id`) are ignored, and a JSON
// null counts as an absent field. `data`, `tweaks` and `content` are kept as
// compact JSON text with keys in their original order and every number
// spelled exactly as in the body (so integers beyond 2^53 survive).
std::optional<NotifyError> ParseNotifyBody(absl::string_view body, herald::v1::Notification* out);

}  // namespace herald::bridge
