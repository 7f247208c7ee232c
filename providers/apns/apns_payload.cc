#include "providers/apns/apns_payload.h"

#include <cstdint>
#include <queue>
#include <utility>
#include <vector>

#include "providers/common/device_data.h"
#include "providers/common/encoding.h"
#include "providers/common/json.h"
#include "providers/common/utf8.h"
#include "rapidjson/document.h"

namespace herald::providers::apns {
namespace {

using ::herald::v1::Device;
using ::herald::v1::Notification;
using Value = ::rapidjson::Value;
using Allocator = ::rapidjson::Document::AllocatorType;

// Sygnal's MAX_FIELD_LENGTH: room names and display names are cut to this
// many characters (code points) before going into loc-args.
constexpr size_t kMaxFieldChars = 1024;

// ---------------------------------------------------------------------------
// UTF-8 and JSON helpers.

// Length of the UTF-8 sequence introduced by lead byte `c`; 0 if `c` cannot
// start one.
size_t SequenceLength(char c) {
  const auto b = static_cast<unsigned char>(c);
  if (b < 0x80) return 1;
  if ((b & 0xE0) == 0xC0) return 2;
  if ((b & 0xF0) == 0xE0) return 3;
  if ((b & 0xF8) == 0xF0) return 4;
  return 0;
}

// Bytes taken by the last character of non-empty `s`: its whole sequence when
// it is well formed, else just the last byte (stray bytes go one at a time).
size_t LastCharLength(absl::string_view s) {
  const size_t n = s.size();
  size_t start = n - 1;
  while (start > 0 && n - start < 4 && IsUtf8Continuation(s[start])) --start;
  return SequenceLength(s[start]) == n - start ? n - start : 1;
}

// Bytes that byte `c` of a string takes in rapidjson's compact output.
size_t EscapedLength(char c) {
  const auto b = static_cast<unsigned char>(c);
  if (b == '"' || b == '\\') return 2;
  if (b < 0x20) {
    return (b == '\b' || b == '\t' || b == '\n' || b == '\f' || b == '\r') ? 2 : 6;
  }
  return 1;
}

std::optional<absl::string_view> GetString(const Value& obj, const char* key) {
  if (!obj.IsObject()) return std::nullopt;
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return absl::string_view(it->value.GetString(), it->value.GetStringLength());
}

// obj[key] = v, keeping the key's position when it exists, appending it
// otherwise (Python dict assignment).
void SetMember(Value& obj, const char* key, Value&& v, Allocator& alloc) {
  auto it = obj.FindMember(key);
  if (it != obj.MemberEnd()) {
    it->value = v;
  } else {
    obj.AddMember(Value(key, alloc), v, alloc);
  }
}

// obj[key], made an (empty) object when absent or not an object.
Value& EnsureObject(Value& obj, const char* key, Allocator& alloc) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd()) {
    obj.AddMember(Value(key, alloc), Value(rapidjson::kObjectType), alloc);
    return (obj.MemberEnd() - 1)->value;
  }
  if (!it->value.IsObject()) it->value.SetObject();
  return it->value;
}

// Python truthiness of an optional string field: set and non-empty.
const std::string* Truthy(bool has, const std::string& value) {
  return has && !value.empty() ? &value : nullptr;
}

// ---------------------------------------------------------------------------
// Truncation.

struct Choppable {
  Value* value;
  std::string text;
};

// Sygnal's choppable fields, in its order: aps.alert when a string, else
// aps.alert.body, then the string entries of aps.alert.loc-args.
std::vector<Choppable> FindChoppables(Value& root) {
  std::vector<Choppable> out;
  auto add = [&out](Value& v) {
    out.push_back({&v, std::string(v.GetString(), v.GetStringLength())});
  };
  if (!root.IsObject()) return out;
  auto aps = root.FindMember("aps");
  if (aps == root.MemberEnd() || !aps->value.IsObject()) return out;
  auto alert = aps->value.FindMember("alert");
  if (alert == aps->value.MemberEnd()) return out;
  if (alert->value.IsString()) {
    add(alert->value);
    return out;
  }
  if (!alert->value.IsObject()) return out;
  auto body = alert->value.FindMember("body");
  if (body != alert->value.MemberEnd() && body->value.IsString()) add(body->value);
  auto args = alert->value.FindMember("loc-args");
  if (args != alert->value.MemberEnd() && args->value.IsArray()) {
    for (Value& arg : args->value.GetArray()) {
      if (arg.IsString()) add(arg);
    }
  }
  return out;
}

// Serializes `root` into *out, shortening its choppable strings first when
// needed. False when it cannot fit in max_bytes.
//
// Equivalent to "while too long: drop the last character of the longest
// choppable", but the size is tracked from the escaped length of each dropped
// character instead of re-serializing, so the cost stays linear in the size of
// the strings; the result is then serialized again to check.
bool SerializeWithin(Value& root, Allocator& alloc, size_t max_bytes, std::string* out) {
  std::string json = Serialize(root);
  if (json.size() <= max_bytes) {
    *out = std::move(json);
    return true;
  }
  std::vector<Choppable> chops = FindChoppables(root);
  // Longest (in UTF-8 bytes) first; ties go to the earliest choppable.
  auto lower = [&chops](size_t a, size_t b) {
    const size_t la = chops[a].text.size(), lb = chops[b].text.size();
    return la != lb ? la < lb : a > b;
  };
  while (json.size() > max_bytes) {
    std::priority_queue<size_t, std::vector<size_t>, decltype(lower)> longest(lower);
    for (size_t i = 0; i < chops.size(); ++i) {
      if (!chops[i].text.empty()) longest.push(i);
    }
    size_t excess = json.size() - max_bytes;
    while (excess > 0) {
      if (longest.empty()) return false;  // Everything choppable is gone.
      const size_t i = longest.top();
      longest.pop();
      // Chop `i` for as long as it stays the longest, without heap traffic.
      std::string& text = chops[i].text;
      size_t end = text.size();
      do {
        const size_t len = LastCharLength(absl::string_view(text.data(), end));
        size_t saved = 0;
        for (size_t k = end - len; k < end; ++k) saved += EscapedLength(text[k]);
        end -= len;
        excess = saved >= excess ? 0 : excess - saved;
      } while (excess > 0 && end > 0 &&
               (longest.empty() || end > chops[longest.top()].text.size() ||
                (end == chops[longest.top()].text.size() && i < longest.top())));
      text.resize(end);
      if (!text.empty()) longest.push(i);
    }
    for (Choppable& c : chops)
      c.value->SetString(c.text.data(), static_cast<rapidjson::SizeType>(c.text.size()), alloc);
    json = Serialize(root);
  }
  *out = std::move(json);
  return true;
}

// ---------------------------------------------------------------------------
// Payload building.

// Copies data.default_payload (when it is an object) into *payload.
void CopyDefaultPayload(const Device& device, rapidjson::Document* payload) {
  const providers::DeviceData data = providers::ParseDeviceData(device);
  auto it = data.doc.FindMember("default_payload");
  if (it != data.doc.MemberEnd() && it->value.IsObject()) {
    payload->CopyFrom(it->value, payload->GetAllocator());  // Parsed strings are copied.
  }
}

void BuildEventIdOnly(const Notification& n, const Device& device, rapidjson::Document* payload) {
  Allocator& alloc = payload->GetAllocator();
  CopyDefaultPayload(device, payload);
  if (const std::string* room_id = Truthy(n.has_room_id(), n.room_id())) {
    SetMember(*payload, "room_id", StringValue(*room_id, alloc), alloc);
  }
  SetMember(*payload, "event_id", StringValue(n.event_id(), alloc), alloc);
  if (n.counts().has_unread()) {
    SetMember(*payload, "unread_count", Value(static_cast<int64_t>(n.counts().unread())), alloc);
  }
  if (n.counts().has_missed_calls()) {
    SetMember(*payload, "missed_calls", Value(static_cast<int64_t>(n.counts().missed_calls())),
              alloc);
  }
}

struct Alert {
  std::string loc_key;
  // nullopt entries are written as JSON null (no sender at all).
  std::vector<std::optional<std::string>> loc_args;
};

std::optional<Alert> MessageAlert(const Notification& n, const std::optional<std::string>& from) {
  std::optional<std::string> room;
  if (const std::string* name = Truthy(n.has_room_name(), n.room_name())) {
    room = CutToChars(*name, kMaxFieldChars);
  } else if (const std::string* alias = Truthy(n.has_room_alias(), n.room_alias())) {
    room = CutToChars(*alias, kMaxFieldChars);
  }

  std::optional<std::string> content_display;
  std::optional<std::string> action_display;
  bool is_image = false;
  if (!n.content_json().empty()) {
    rapidjson::Document content;
    content.Parse(n.content_json().data(), n.content_json().size());
    if (!content.HasParseError() && content.IsObject()) {
      std::optional<absl::string_view> msgtype = GetString(content, "msgtype");
      std::optional<absl::string_view> body = GetString(content, "body");
      if (msgtype && body) {
        if (*msgtype == "m.emote") {
          action_display = std::string(*body);
        } else {
          content_display = std::string(*body);  // m.text and any other msgtype
        }
        is_image = *msgtype == "m.image";
      }
    }
  }
  // Python truthiness: an empty body counts as no content (but not for images).
  const bool has_content = content_display && !content_display->empty();
  const bool has_action = action_display && !action_display->empty();

  if (room) {
    if (is_image) return Alert{"IMAGE_FROM_USER_IN_ROOM", {from, content_display, room}};
    if (has_content) {
      return Alert{"MSG_FROM_USER_IN_ROOM_WITH_CONTENT", {from, room, content_display}};
    }
    if (has_action) return Alert{"ACTION_FROM_USER_IN_ROOM", {room, from, action_display}};
    return Alert{"MSG_FROM_USER_IN_ROOM", {from, room}};
  }
  if (is_image) return Alert{"IMAGE_FROM_USER", {from, content_display}};
  if (has_content) return Alert{"MSG_FROM_USER_WITH_CONTENT", {from, content_display}};
  if (has_action) return Alert{"ACTION_FROM_USER", {from, action_display}};
  return Alert{"MSG_FROM_USER", {from}};
}

std::optional<Alert> CallAlert(const Notification& n, const std::optional<std::string>& from) {
  bool video = false;
  if (!n.content_json().empty()) {
    rapidjson::Document content;
    content.Parse(n.content_json().data(), n.content_json().size());
    if (!content.HasParseError() && content.IsObject()) {
      auto offer = content.FindMember("offer");
      if (offer != content.MemberEnd()) {
        std::optional<absl::string_view> sdp = GetString(offer->value, "sdp");
        video = sdp && sdp->find("m=video") != absl::string_view::npos;
      }
    }
  }
  return Alert{video ? "VIDEO_CALL_FROM_USER" : "VOICE_CALL_FROM_USER", {from}};
}

std::optional<Alert> MemberAlert(const Notification& n, const std::optional<std::string>& from) {
  if (!n.user_is_target() || !n.has_membership() || n.membership() != "invite") {
    return std::nullopt;
  }
  if (const std::string* name = Truthy(n.has_room_name(), n.room_name())) {
    return Alert{"USER_INVITE_TO_NAMED_ROOM", {from, CutToChars(*name, kMaxFieldChars)}};
  }
  if (const std::string* alias = Truthy(n.has_room_alias(), n.room_alias())) {
    return Alert{"USER_INVITE_TO_NAMED_ROOM", {from, CutToChars(*alias, kMaxFieldChars)}};
  }
  return Alert{"USER_INVITE_TO_CHAT", {from}};
}

// False when there is nothing to send.
bool BuildFull(const Notification& n, const Device& device, rapidjson::Document* payload) {
  std::optional<std::string> from;
  if (n.has_sender_display_name()) {
    from = CutToChars(n.sender_display_name(), kMaxFieldChars);
  } else if (n.has_sender()) {
    from = CutToChars(n.sender(), kMaxFieldChars);
  } else {
    from = " ";  // as Sygnal: apps format loc-args, a null would break them
  }

  const std::string* type = Truthy(n.has_type(), n.type());
  std::optional<Alert> alert;
  if (type == nullptr) {
    // No loc-key.
  } else if (*type == "m.room.message" || *type == "m.room.encrypted") {
    alert = MessageAlert(n, from);
  } else if (*type == "m.call.invite") {
    alert = CallAlert(n, from);
  } else if (*type == "m.room.member") {
    alert = MemberAlert(n, from);
  } else {
    alert = Alert{"MSG_FROM_USER", {from}};
  }

  std::optional<int64_t> badge;
  if (n.counts().has_unread()) badge = n.counts().unread();
  if (n.counts().has_missed_calls()) {
    int64_t sum = 0;
    if (__builtin_add_overflow(badge.value_or(0), n.counts().missed_calls(), &sum)) {
      sum = n.counts().missed_calls() > 0 ? INT64_MAX : INT64_MIN;
    }
    badge = sum;
  }

  if (!alert && !badge) return false;

  Allocator& alloc = payload->GetAllocator();
  if (type != nullptr) CopyDefaultPayload(device, payload);
  Value& aps = EnsureObject(*payload, "aps", alloc);
  if (alert) {
    Value& alert_obj = EnsureObject(aps, "alert", alloc);
    SetMember(alert_obj, "loc-key", StringValue(alert->loc_key, alloc), alloc);
    Value args(rapidjson::kArrayType);
    for (const std::optional<std::string>& arg : alert->loc_args) {
      args.PushBack(arg ? StringValue(*arg, alloc) : Value(), alloc);
    }
    SetMember(alert_obj, "loc-args", std::move(args), alloc);
  }
  if (badge) SetMember(aps, "badge", Value(*badge), alloc);
  if (alert) {
    if (const std::string* room_id = Truthy(n.has_room_id(), n.room_id())) {
      SetMember(*payload, "room_id", StringValue(*room_id, alloc), alloc);
    }
    if (const std::string* event_id = Truthy(n.has_event_id(), n.event_id())) {
      SetMember(*payload, "event_id", StringValue(*event_id, alloc), alloc);
    }
  }
  return true;
}

}  // namespace

std::optional<std::string> BuildApnsPayload(const Notification& n, const Device& device) {
  rapidjson::Document payload;
  payload.SetObject();
  const bool event_id_only = Truthy(n.has_event_id(), n.event_id()) != nullptr &&
                             Truthy(n.has_type(), n.type()) == nullptr;
  if (event_id_only) {
    BuildEventIdOnly(n, device, &payload);
  } else if (!BuildFull(n, device, &payload)) {
    return std::nullopt;
  }
  std::string out;
  if (!SerializeWithin(payload, payload.GetAllocator(), kApnsMaxPayloadBytes, &out)) {
    return std::nullopt;
  }
  return out;
}

std::optional<std::string> TruncateApnsPayload(absl::string_view payload, size_t max_bytes) {
  if (payload.size() <= max_bytes) return std::string(payload);
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseFullPrecisionFlag>(payload.data(), payload.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  std::string out;
  if (!SerializeWithin(doc, doc.GetAllocator(), max_bytes, &out)) return std::nullopt;
  return out;
}

std::optional<std::string> DeviceTokenToHex(absl::string_view pushkey) {
  std::optional<std::string> bytes = Base64DecodeAnyAlphabet(pushkey);
  if (!bytes || bytes->empty()) return std::nullopt;
  return HexEncode(*bytes);
}

}  // namespace herald::providers::apns
