#include "providers/gcm/fcm_message.h"

#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "providers/common/device_data.h"
#include "providers/common/json.h"
#include "providers/common/utf8.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace herald::providers::gcm {
namespace {

using herald::v1::Device;
using herald::v1::Notification;
using rapidjson::Document;
using rapidjson::Value;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Member indexes of the object `obj` with each name once: in the order of the
// name's first occurrence, pointing at its last occurrence (the value a JSON
// parser keeping the last duplicate would see).
std::vector<size_t> UniqueMemberIndexes(const Value& obj) {
  std::vector<size_t> out;
  absl::flat_hash_map<absl::string_view, size_t> slot;
  size_t i = 0;
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it, ++i) {
    auto [pos, inserted] = slot.emplace(View(it->name), out.size());
    if (inserted) {
      out.push_back(i);
    } else {
      out[pos->second] = i;
    }
  }
  return out;
}

// The last member named `name` of the object `obj`, or nullptr.
const Value* FindLastMember(const Value& obj, absl::string_view name) {
  const Value* found = nullptr;
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    if (View(it->name) == name) found = &it->value;
  }
  return found;
}

// A JSON value seen twice: `typed` parsed normally, `raw` parsed from the same
// text with numbers kept as strings holding their exact source text. Both have
// the same structure.
struct DualValue {
  const Value& typed;
  const Value& raw;

  DualValue Member(size_t index) const {
    return {(typed.MemberBegin() + index)->value, (raw.MemberBegin() + index)->value};
  }
};

// Writes `v` compactly, numbers as their source text, duplicate object keys
// collapsed (first position, last value).
void WriteJson(const DualValue& v, JsonWriter& w) {
  switch (v.typed.GetType()) {
    case rapidjson::kNullType:
      w.Null();
      break;
    case rapidjson::kFalseType:
      w.Bool(false);
      break;
    case rapidjson::kTrueType:
      w.Bool(true);
      break;
    case rapidjson::kStringType:
      w.String(v.typed.GetString(), v.typed.GetStringLength());
      break;
    case rapidjson::kNumberType:
      w.RawValue(v.raw.GetString(), v.raw.GetStringLength(), rapidjson::kNumberType);
      break;
    case rapidjson::kArrayType:
      w.StartArray();
      for (rapidjson::SizeType i = 0; i < v.typed.Size(); ++i) {
        WriteJson(DualValue{v.typed[i], v.raw[i]}, w);
      }
      w.EndArray();
      break;
    case rapidjson::kObjectType:
      w.StartObject();
      for (size_t index : UniqueMemberIndexes(v.typed)) {
        const Value& name = (v.typed.MemberBegin() + index)->name;
        w.Key(name.GetString(), name.GetStringLength());
        WriteJson(v.Member(index), w);
      }
      w.EndObject();
      break;
  }
}

std::string JsonText(const DualValue& v) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  WriteJson(v, w);
  return std::string(buf.GetString(), buf.GetSize());
}

// Parses `text` both ways. False when it is not valid JSON.
bool ParseDual(absl::string_view text, Document* typed, Document* raw) {
  typed->Parse(text.data(), text.size());
  raw->Parse<rapidjson::kParseNumbersAsStringsFlag>(text.data(), text.size());
  return !typed->HasParseError() && !raw->HasParseError();
}

// Insertion-ordered string map; setting an existing key replaces its value in
// place.
class OrderedMap {
 public:
  void Set(absl::string_view key, std::string value) {
    auto [pos, inserted] = index_.emplace(std::string(key), entries_.size());
    if (inserted) {
      entries_.emplace_back(std::string(key), std::move(value));
    } else {
      entries_[pos->second].second = std::move(value);
    }
  }
  const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
  absl::flat_hash_map<std::string, size_t> index_;
};

// Adds the members of data.default_payload to *data. False when it is present
// but not an object.
bool AddDefaultPayload(const Device& device, OrderedMap* data) {
  const DeviceData parsed = ParseDeviceData(device);
  // An empty object also stands for absent or unparsable data.
  if (parsed.doc.MemberCount() == 0) return true;
  const Value* typed = FindLastMember(parsed.doc, "default_payload");
  if (typed == nullptr) return true;
  if (!typed->IsObject()) return false;

  // The data parsed (it has members), so this parse succeeds with the same
  // structure.
  Document raw_doc;
  raw_doc.Parse<rapidjson::kParseNumbersAsStringsFlag>(device.data_json().data(),
                                                       device.data_json().size());
  if (raw_doc.HasParseError() || !raw_doc.IsObject()) return true;
  const Value* raw = FindLastMember(raw_doc, "default_payload");
  if (raw == nullptr || !raw->IsObject()) return true;

  const DualValue payload{*typed, *raw};
  for (size_t index : UniqueMemberIndexes(*typed)) {
    const DualValue member = payload.Member(index);
    absl::string_view key = View((typed->MemberBegin() + index)->name);
    if (member.typed.IsString()) {
      data->Set(key, std::string(View(member.typed)));
    } else {
      data->Set(key, JsonText(member));
    }
  }
  return true;
}

void AddField(bool has, const std::string& value, absl::string_view key, OrderedMap* data) {
  if (has) data->Set(key, TruncateUtf8(value, kMaxFieldBytes));
}

void AddContent(const std::string& content_json, OrderedMap* data) {
  if (content_json.empty()) return;
  Document content;
  content.Parse(content_json.data(), content_json.size());
  if (content.HasParseError() || !content.IsObject()) return;
  for (size_t index : UniqueMemberIndexes(content)) {
    const auto& member = *(content.MemberBegin() + index);
    if (!member.value.IsString()) continue;
    data->Set(absl::StrCat("content_", View(member.name)),
              TruncateUtf8(View(member.value), kMaxFieldBytes));
  }
}

}  // namespace

std::string TruncateUtf8(absl::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return std::string(s);
  const bool with_ellipsis = max_bytes >= kEllipsis.size();
  size_t cut = with_ellipsis ? max_bytes - kEllipsis.size() : max_bytes;
  // s[cut] exists (cut <= max_bytes < s.size()); back up to a character start.
  while (cut > 0 && IsUtf8Continuation(s[cut])) --cut;
  std::string out(s.substr(0, cut));
  if (with_ellipsis) out.append(kEllipsis.data(), kEllipsis.size());
  return out;
}

FcmOptions PrepareFcmOptions(absl::string_view fcm_options_json) {
  OrderedMap android;
  OrderedMap extra;
  Document opts_typed;
  Document opts_raw;
  if (!fcm_options_json.empty() && ParseDual(fcm_options_json, &opts_typed, &opts_raw) &&
      opts_typed.IsObject()) {
    const DualValue opts{opts_typed, opts_raw};
    for (size_t index : UniqueMemberIndexes(opts_typed)) {
      absl::string_view key = View((opts_typed.MemberBegin() + index)->name);
      const DualValue value = opts.Member(index);
      if (key == "token" || key == "data") continue;
      if (key == "android") {
        if (!value.typed.IsObject()) continue;
        for (size_t a : UniqueMemberIndexes(value.typed)) {
          android.Set(View((value.typed.MemberBegin() + a)->name), JsonText(value.Member(a)));
        }
        continue;
      }
      extra.Set(key, JsonText(value));
    }
  }
  return FcmOptions{android.entries(), extra.entries()};
}

absl::StatusOr<std::string> BuildFcmMessage(const Notification& n, const Device& device,
                                            absl::string_view fcm_options_json) {
  return BuildFcmMessage(n, device, PrepareFcmOptions(fcm_options_json));
}

absl::StatusOr<std::string> BuildFcmMessage(const Notification& n, const Device& device,
                                            const FcmOptions& options) {
  OrderedMap data;
  if (!AddDefaultPayload(device, &data)) {
    return absl::InvalidArgumentError("data.default_payload is not a JSON object");
  }
  AddField(n.has_event_id(), n.event_id(), "event_id", &data);
  AddField(n.has_type(), n.type(), "type", &data);
  AddField(n.has_sender(), n.sender(), "sender", &data);
  AddField(n.has_room_name(), n.room_name(), "room_name", &data);
  AddField(n.has_room_alias(), n.room_alias(), "room_alias", &data);
  AddField(n.has_membership(), n.membership(), "membership", &data);
  AddField(n.has_sender_display_name(), n.sender_display_name(), "sender_display_name", &data);
  AddField(n.has_room_id(), n.room_id(), "room_id", &data);
  AddContent(n.content_json(), &data);
  const absl::string_view priority = n.prio() == herald::v1::PRIORITY_LOW ? "normal" : "high";
  data.Set("prio", std::string(priority));
  if (n.has_counts() && n.counts().has_unread()) {
    data.Set("unread", absl::StrCat(n.counts().unread()));
  }
  if (n.has_counts() && n.counts().has_missed_calls()) {
    data.Set("missed_calls", absl::StrCat(n.counts().missed_calls()));
  }

  // android: the priority, then the app's overrides (replacing it in place).
  OrderedMap android;
  android.Set("priority", absl::StrCat("\"", priority, "\""));
  for (const auto& [key, json] : options.android) android.Set(key, json);

  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("message");
  w.StartObject();
  w.Key("token");
  w.String(device.pushkey().data(), static_cast<rapidjson::SizeType>(device.pushkey().size()));
  w.Key("data");
  w.StartObject();
  for (const auto& [key, value] : data.entries()) {
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  }
  w.EndObject();
  w.Key("android");
  w.StartObject();
  for (const auto& [key, json] : android.entries()) {
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    w.RawValue(json.data(), json.size(), rapidjson::kObjectType);
  }
  w.EndObject();
  for (const auto& [key, json] : options.extra) {
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    w.RawValue(json.data(), json.size(), rapidjson::kObjectType);
  }
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace herald::providers::gcm
