// The JSON message Herald encrypts into a Web Push body, in Sygnal's shape,
// and the Topic header for `only_last_per_room`.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "proto/herald/v1/herald.pb.h"
#include "providers/common/device_data.h"

namespace herald::providers::webpush {

// Sygnal's MAX_BODY_LENGTH: content.body longer than this many characters
// (code points) is cut to kMaxBodyChars - 1 characters + "…".
inline constexpr size_t kMaxBodyChars = 1000;

// Sygnal's Web Push JSON payload (compact JSON, UTF-8, non-ASCII unescaped):
// starts with the members of the device data's `default_payload` (if an
// object), then these notification fields when set AND non-empty (strings) /
// true (user_is_target): room_id, room_name, room_alias, membership, event_id,
// sender, sender_display_name, user_is_target, type; then the counts "unread"
// and "missed_calls" (numbers) when set (0 included); then "content": the
// notification's content object (when it is an object) without
// "formatted_body", with a string "body" longer than kMaxBodyChars characters
// cut to kMaxBodyChars - 1 characters + "…". A later key replaces the value of
// an earlier one of the same name, keeping the earlier position, so the
// output never has duplicate keys (also inside default_payload and content,
// at any depth).
std::string BuildWebPushPayload(const herald::v1::Notification& n,
                                const herald::v1::Device& device);
// The same, from the device's data already parsed (the provider has it).
std::string BuildWebPushPayload(const herald::v1::Notification& n, const DeviceData& data);

// Makes `payload` (a JSON object as built above) at most `max_bytes` long:
// returned unchanged when it already fits; otherwise shortens content.body,
// then sender_display_name, room_name and room_alias (whole UTF-8
// characters, ending in "…"), then drops "content" and tries the names again
// (FitJsonObject, NotificationFitSteps). nullopt only if even that does not
// fit (or the payload is too big and not a JSON object).
std::optional<std::string> FitWebPushPayload(const std::string& payload, size_t max_bytes);

// 3993 bytes of payload fit in a 4096-byte aes128gcm body (86 header, 16 tag,
// 1 delimiter).
inline constexpr size_t kMaxPlaintextBytes = 4096 - 86 - 16 - 1;

// Topic header for only_last_per_room: base64url (no padding) of
// SHA-256(room_id), first 32 characters (RFC 8030 §5.4 limit).
std::string RoomTopic(absl::string_view room_id);

}  // namespace herald::providers::webpush
