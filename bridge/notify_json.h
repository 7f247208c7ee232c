// Parsing of the Matrix Push Gateway request body
// (POST /_matrix/push/v1/notify) into the herald.v1 contract.
//
// Pure: no I/O, no logging. The HTTP layer maps an error status to a
// `400 {"errcode": ErrCode(status), "error": status.message()}` answer.

#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/herald/v1/herald.pb.h"

namespace herald::bridge {

// The Matrix errcode for an error of ParseNotifyBody: "M_NOT_JSON" when the
// body is not UTF-8 JSON at all, "M_BAD_JSON" when it is JSON but not of the
// shape the Push Gateway API requires.
const char* ErrCode(const absl::Status& status);

// Deepest nesting of arrays/objects accepted in a body. Real bodies nest a
// handful of levels; the bound keeps hostile bodies from exhausting the stack
// of code that walks the JSON recursively (here and in the providers, which
// re-parse `data`, `tweaks` and `content`).
inline constexpr int kMaxNotifyJsonDepth = 256;

// Parses the body of POST /_matrix/push/v1/notify into `out`. On error returns
// InvalidArgument and leaves `out` untouched. The message is human-readable
// and names the offending field (e.g. "notification.devices[2].pushkey must
// be a non-empty string"); it never holds values from the body: a pushkey is
// a credential of sorts.
//
// Unknown fields (including Synapse's deprecated `id`) are ignored, and a JSON
// null counts as an absent field. `data`, `tweaks` and `content` are kept as
// compact JSON text with keys in their original order and every number
// spelled exactly as in the body (so integers beyond 2^53 survive).
absl::Status ParseNotifyBody(absl::string_view body, herald::v1::Notification* out);

}  // namespace herald::bridge
