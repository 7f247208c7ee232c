// APNs payloads, Sygnal-compatible: what Sygnal's APNs pushkin puts on the
// wire for a Matrix notification (loc-key/loc-args alerts, badge,
// event_id_only payloads, default_payload merge, 4096-byte truncation).
//
// Pure: no I/O.

#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "proto/herald/v1/herald.pb.h"

namespace herald::providers::apns {

// APNs rejects payloads larger than this (bytes of the JSON body).
inline constexpr size_t kApnsMaxPayloadBytes = 4096;

// Builds the compact JSON payload for one device. nullopt = nothing to send:
// no loc-key and no badge, or the payload cannot be shortened to
// kApnsMaxPayloadBytes.
//
// event_id_only (the notification has an event_id and no type):
//   {...default_payload, room_id, event_id, unread_count, missed_calls}.
// Otherwise: {...default_payload, "aps": {"alert": {"loc-key", "loc-args"},
//   "badge"}, room_id, event_id}, the ids only when there is a loc-key.
// Keys of default_payload keep their order; added keys follow.
std::optional<std::string> BuildApnsPayload(const herald::v1::Notification& n,
                                            const herald::v1::Device& device);

// Shortens the JSON object `payload` to at most `max_bytes` bytes by
// repeatedly removing the last UTF-8 character of the longest (in UTF-8 bytes)
// of aps.alert (when a string), aps.alert.body and the string entries of
// aps.alert.loc-args; ties go to the first of them in that order. Sizes are
// those of the real compact serialization (escapes count). Returns `payload`
// unchanged when it already fits; nullopt when it cannot fit, or when it does
// not fit and is not a JSON object.
std::optional<std::string> TruncateApnsPayload(absl::string_view payload,
                                               size_t max_bytes = kApnsMaxPayloadBytes);

// Pushkey (base64, standard alphabet, padding optional) -> lowercase hex
// device token. nullopt when empty or not valid base64.
std::optional<std::string> DeviceTokenToHex(absl::string_view pushkey);

}  // namespace herald::providers::apns
