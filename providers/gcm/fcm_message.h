// FCM HTTP v1 request bodies, Sygnal-compatible: what Sygnal's GCM pushkin
// (api_version v1) puts on the wire for a Matrix notification.
//
// Pure: no I/O.

#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/herald/v1/herald.pb.h"

namespace herald::providers::gcm {

// Longest value (UTF-8 bytes) of a notification field copied into `data`.
inline constexpr size_t kMaxFieldBytes = 1024;

// Cuts `s` to at most `max_bytes` UTF-8 bytes at a character boundary. When
// cut, the result ends with "…" (U+2026, 3 bytes) and the whole result still
// fits in `max_bytes`. `s` is returned unchanged when it already fits. When
// `max_bytes` < 3 the ellipsis cannot fit: the result is then the longest
// prefix of whole characters that fits, without an ellipsis.
std::string TruncateUtf8(absl::string_view s, size_t max_bytes);

// Builds the compact FCM v1 request body for one device:
//   {"message":{"token":pushkey,"data":{...},"android":{"priority":...},
//               ...fcm_options}}
//
// data (every value a string), in this order:
//   - the members of data.default_payload; non-string values become their
//     compact JSON text (numbers keep their exact source text);
//   - event_id, type, sender, room_name, room_alias, membership,
//     sender_display_name, room_id when set, each cut to kMaxFieldBytes;
//   - "content_<key>" for each string member of content, cut to
//     kMaxFieldBytes (other content values are dropped);
//   - "prio": "high" | "normal" (low -> normal);
//   - "unread", "missed_calls" as decimal strings when set.
//   A key set again (e.g. a default_payload key the notification also sets)
//   keeps its first position and takes the later value: no duplicate keys.
//   For duplicate keys within one JSON object, the last value wins.
//
// android = {"priority": "high" | "normal"} with the members of
// fcm_options.android (when an object) merged in, overriding.
// The other members of `fcm_options_json` (the app's `fcm_options` config, a
// JSON object text; "" = none; text that is not a JSON object is ignored) are
// added to message after android, in their order; "token" and "data" members
// are ignored.
//
// Error (the caller rejects the pushkey without calling FCM) when the device's
// data.default_payload is present but not a JSON object (null included).
//
// The app's options are the same for every push: prepare them once.
struct FcmOptions {
  std::vector<std::pair<std::string, std::string>> android;  // key, JSON text
  std::vector<std::pair<std::string, std::string>> extra;    // key, JSON text
};
FcmOptions PrepareFcmOptions(absl::string_view fcm_options_json);

absl::StatusOr<std::string> BuildFcmMessage(const herald::v1::Notification& n,
                                            const herald::v1::Device& device,
                                            const FcmOptions& options);
// The same, preparing `fcm_options_json` first.
absl::StatusOr<std::string> BuildFcmMessage(const herald::v1::Notification& n,
                                            const herald::v1::Device& device,
                                            absl::string_view fcm_options_json);

}  // namespace herald::providers::gcm
