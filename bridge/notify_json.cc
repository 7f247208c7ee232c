#include "bridge/notify_json.h"

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "proto/herald/v1/herald.pb.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"
#include "rapidjson/memorystream.h"
#include "rapidjson/reader.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace herald::bridge {
namespace {

using ::herald::v1::Notification;
using ::rapidjson::SizeType;
using ::rapidjson::Value;
using JsonWriter = ::rapidjson::Writer<::rapidjson::StringBuffer>;

// Numbers are parsed as their source text (kParseNumbersAsStringsFlag) so that
// `data`, `tweaks` and `content` can be written back digit for digit: a double
// cannot hold 9007199254740993, and nothing can hold integers past 2^64. The
// DOM has no "raw number" type, so a number is stored as a string prefixed
// with this byte. 0xFF never occurs in UTF-8, and the reader validates the
// encoding of every real string, so the two cannot be confused.
constexpr char kNumberMarker = '\xFF';

// -- Parsing ------------------------------------------------------------------

// SAX handler feeding a rapidjson::Document: marks numbers (see above) and
// stops at kMaxNotifyJsonDepth.
class BodyHandler {
 public:
  explicit BodyHandler(rapidjson::Document* doc) : doc_(doc) {}

  bool Null() { return doc_->Null(); }
  bool Bool(bool b) { return doc_->Bool(b); }
  // With kParseNumbersAsStringsFlag the reader reports every number through
  // RawNumber; these exist only because the Handler concept requires them.
  bool Int(int i) { return doc_->Int(i); }
  bool Uint(unsigned u) { return doc_->Uint(u); }
  bool Int64(int64_t i) { return doc_->Int64(i); }
  bool Uint64(uint64_t u) { return doc_->Uint64(u); }
  bool Double(double d) { return doc_->Double(d); }
  bool RawNumber(const char* str, SizeType length, bool /*copy*/) {
    number_.assign(1, kNumberMarker);
    number_.append(str, length);
    // The document copies the text: `number_` is reused for the next number.
    return doc_->String(number_.data(), static_cast<SizeType>(number_.size()),
                        /*copy=*/true);
  }
  bool String(const char* str, SizeType length, bool copy) {
    return Unicode(str, length) && doc_->String(str, length, copy);
  }
  bool Key(const char* str, SizeType length, bool copy) {
    return Unicode(str, length) && doc_->Key(str, length, copy);
  }
  bool StartObject() { return Enter() && doc_->StartObject(); }
  bool EndObject(SizeType member_count) {
    --depth_;
    return doc_->EndObject(member_count);
  }
  bool StartArray() { return Enter() && doc_->StartArray(); }
  bool EndArray(SizeType element_count) {
    --depth_;
    return doc_->EndArray(element_count);
  }

  bool too_deep() const { return too_deep_; }
  bool lone_surrogate() const { return lone_surrogate_; }

 private:
  // The reader validates the body's bytes, but it turns an escaped lone low
  // surrogate ("\udc00") into the 3 bytes ED B0 80, which are not UTF-8.
  // Such a string would make the protobuf message unparsable at the
  // dispatcher, and end the stream other requests share. Surrogates are
  // the only code points encoded as ED A0..BF.
  bool Unicode(const char* str, SizeType length) {
    const char* end = str + length;
    for (const char* p = str; (p = static_cast<const char*>(std::memchr(p, '\xED', end - p)));
         ++p) {
      if (p + 1 < end && static_cast<unsigned char>(p[1]) >= 0xA0) {
        lone_surrogate_ = true;
        return false;  // Aborts the parse.
      }
    }
    return true;
  }

  bool Enter() {
    if (++depth_ > kMaxNotifyJsonDepth) {
      too_deep_ = true;
      return false;  // Aborts the parse.
    }
    return true;
  }

  rapidjson::Document* doc_;
  std::string number_;
  int depth_ = 0;
  bool too_deep_ = false;
  bool lone_surrogate_ = false;
};

// Marks a status as "the body is not JSON at all" (M_NOT_JSON).
constexpr absl::string_view kNotJsonPayload = "herald.bridge/not-json";

absl::Status NotJson(absl::string_view message) {
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kNotJsonPayload, absl::Cord());
  return status;
}

absl::Status BadJson(absl::string_view message) { return absl::InvalidArgumentError(message); }

// `field` + " " + `requirement`, e.g. "notification.prio must be ...".
absl::Status BadField(absl::string_view field, absl::string_view requirement) {
  return BadJson(absl::StrCat(field, " ", requirement));
}

absl::Status ParseJson(absl::string_view body, rapidjson::Document* doc) {
  // Iterative: a recursive descent parser would overflow the stack on a
  // body of a few hundred thousand '['. Validating the encoding rejects
  // non-UTF-8 strings (bytes outside strings are syntax errors anyway).
  constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag |
                              rapidjson::kParseNumbersAsStringsFlag |
                              rapidjson::kParseIterativeFlag;
  // MemoryStream, unlike StringStream, does not need a NUL terminator.
  rapidjson::MemoryStream stream(body.data(), body.size());
  rapidjson::Reader reader;
  rapidjson::ParseResult result;
  bool too_deep = false;
  bool lone_surrogate = false;
  auto generate = [&](rapidjson::Document& target) {
    BodyHandler handler(&target);
    result = reader.Parse<kFlags>(stream, handler);
    too_deep = handler.too_deep();
    lone_surrogate = handler.lone_surrogate();
    return !result.IsError();
  };
  doc->Populate(generate);

  if (lone_surrogate) {
    return NotJson(
        absl::StrCat("body is not valid UTF-8 JSON: a \\u escape names a lone surrogate (at byte ",
                     result.Offset(), ")"));
  }
  if (too_deep) {
    return BadJson(
        absl::StrCat("body nests arrays/objects deeper than ", kMaxNotifyJsonDepth, " levels"));
  }
  if (result.IsError()) {
    // Offsets and RapidJSON's generic texts never quote the body.
    return NotJson(
        absl::StrCat("body is not valid UTF-8 JSON: ", rapidjson::GetParseError_En(result.Code()),
                     " (at byte ", result.Offset(), ")"));
  }
  // The reader takes a NUL byte for the end of input, so "{...}\0junk"
  // parses: whatever follows the value must be checked here.
  if (stream.Tell() != body.size()) {
    return NotJson(
        absl::StrCat("body is not valid UTF-8 JSON: unexpected data after the value (at "
                     "byte ",
                     stream.Tell(), ")"));
  }
  return absl::OkStatus();
}

// -- Reading the DOM ----------------------------------------------------------

bool IsNumber(const Value& v) {
  return v.IsString() && v.GetStringLength() > 0 && v.GetString()[0] == kNumberMarker;
}

// A JSON string, as opposed to a marked number.
bool IsText(const Value& v) { return v.IsString() && !IsNumber(v); }

absl::string_view Text(const Value& v) {
  return absl::string_view(v.GetString(), v.GetStringLength());
}

// The number's source text, without the marker.
absl::string_view NumberText(const Value& v) { return Text(v).substr(1); }

// The value as an int64 if it is a JSON integer in range. "1.0" and "1e3" are
// not integers: Synapse never sends them for these fields, and accepting them
// would mean guessing.
std::optional<int64_t> AsInt64(const Value& v) {
  int64_t result;
  if (!IsNumber(v) || !absl::SimpleAtoi(NumberText(v), &result)) {
    return std::nullopt;
  }
  return result;
}

// The member `name` of `object`, or nullptr if it is absent or null: the spec
// lets homeservers send null for fields they have no value for.
const Value* Member(const Value& object, const char* name) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

void WriteValue(const Value& v, JsonWriter* writer) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      writer->Null();
      return;
    case rapidjson::kFalseType:
      writer->Bool(false);
      return;
    case rapidjson::kTrueType:
      writer->Bool(true);
      return;
    case rapidjson::kStringType:
      if (IsNumber(v)) {
        absl::string_view number = NumberText(v);
        writer->RawValue(number.data(), number.size(), rapidjson::kNumberType);
      } else {
        writer->String(v.GetString(), v.GetStringLength());
      }
      return;
    case rapidjson::kNumberType:
      // Not produced by ParseJson; kept for completeness.
      v.Accept(*writer);
      return;
    case rapidjson::kObjectType:
      writer->StartObject();
      for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
        writer->Key(it->name.GetString(), it->name.GetStringLength());
        WriteValue(it->value, writer);
      }
      writer->EndObject();
      return;
    case rapidjson::kArrayType:
      writer->StartArray();
      for (auto it = v.Begin(); it != v.End(); ++it) WriteValue(*it, writer);
      writer->EndArray();
      return;
  }
}

// Compact JSON text of `v`. Recursion is bounded by kMaxNotifyJsonDepth.
std::string ToJsonText(const Value& v) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  WriteValue(v, &writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// -- The notification ---------------------------------------------------------

// Optional string fields of `notification`, in Matrix order.
struct StringField {
  const char* name;
  std::string* (Notification::*mutable_field)();
};
const StringField kStringFields[] = {
    {"event_id", &Notification::mutable_event_id},
    {"room_id", &Notification::mutable_room_id},
    {"type", &Notification::mutable_type},
    {"sender", &Notification::mutable_sender},
    {"sender_display_name", &Notification::mutable_sender_display_name},
    {"room_name", &Notification::mutable_room_name},
    {"room_alias", &Notification::mutable_room_alias},
    {"membership", &Notification::mutable_membership},
};

// `path` + "." + `name`, the field name used in error messages.
std::string FieldPath(absl::string_view path, absl::string_view name) {
  return absl::StrCat(path, ".", name);
}

// Reads the required non-empty string `name` of `object` into `out`.
absl::Status RequiredString(const Value& object, absl::string_view path, const char* name,
                            std::string* out) {
  const Value* value = Member(object, name);
  if (value == nullptr || !IsText(*value) || value->GetStringLength() == 0) {
    return BadField(FieldPath(path, name), "must be a non-empty string");
  }
  out->assign(value->GetString(), value->GetStringLength());
  return absl::OkStatus();
}

// Reads the optional object `name` of `object` into `out` as JSON text;
// leaves `out` empty (the proto's "absent") when there is none.
absl::Status OptionalObjectText(const Value& object, absl::string_view path, const char* name,
                                std::string* out) {
  const Value* value = Member(object, name);
  if (value == nullptr) return absl::OkStatus();
  if (!value->IsObject()) {
    return BadField(FieldPath(path, name), "must be an object");
  }
  *out = ToJsonText(*value);
  return absl::OkStatus();
}

// Reads the optional non-negative integer `name` of `counts`; calls `set`
// with it when present.
template <typename Setter>
absl::Status OptionalCount(const Value& counts, const char* name, Setter set) {
  const Value* value = Member(counts, name);
  if (value == nullptr) return absl::OkStatus();
  std::optional<int64_t> count = AsInt64(*value);
  if (!count.has_value() || *count < 0) {
    return BadField(FieldPath("notification.counts", name), "must be a non-negative integer");
  }
  set(*count);
  return absl::OkStatus();
}

absl::Status ParseCounts(const Value& json, Notification* n) {
  const Value* counts = Member(json, "counts");
  if (counts == nullptr) return absl::OkStatus();
  if (!counts->IsObject()) {
    return BadField("notification.counts", "must be an object");
  }
  // Set even when empty: "counts": {} is distinct from no counts.
  herald::v1::Counts* out = n->mutable_counts();
  if (absl::Status error = OptionalCount(*counts, "unread", [&](int64_t c) { out->set_unread(c); });
      !error.ok())
    return error;
  return OptionalCount(*counts, "missed_calls", [&](int64_t c) { out->set_missed_calls(c); });
}

absl::Status ParseDevice(const Value& json, SizeType index, herald::v1::Device* device) {
  const std::string path = absl::StrCat("notification.devices[", index, "]");
  if (!json.IsObject()) return BadField(path, "must be an object");

  // Both identify the pusher: without them nothing can be delivered, nor
  // reported as rejected.
  if (absl::Status error = RequiredString(json, path, "app_id", device->mutable_app_id());
      !error.ok())
    return error;
  if (absl::Status error = RequiredString(json, path, "pushkey", device->mutable_pushkey());
      !error.ok())
    return error;

  if (const Value* ts = Member(json, "pushkey_ts"); ts != nullptr) {
    std::optional<int64_t> seconds = AsInt64(*ts);
    if (!seconds.has_value()) {
      return BadField(FieldPath(path, "pushkey_ts"), "must be an integer");
    }
    device->set_pushkey_ts(*seconds);
  }

  if (absl::Status error = OptionalObjectText(json, path, "data", device->mutable_data_json());
      !error.ok())
    return error;
  return OptionalObjectText(json, path, "tweaks", device->mutable_tweaks_json());
}

absl::Status ParseNotification(const Value& json, Notification* n) {
  for (const StringField& f : kStringFields) {
    const Value* value = Member(json, f.name);
    if (value == nullptr) continue;
    if (!IsText(*value)) {
      return BadField(FieldPath("notification", f.name), "must be a string");
    }
    // Empty strings are kept: Synapse's badge-only updates send "sender": "".
    (n->*f.mutable_field)()->assign(value->GetString(), value->GetStringLength());
  }

  if (const Value* target = Member(json, "user_is_target"); target != nullptr) {
    if (!target->IsBool()) {
      return BadField("notification.user_is_target", "must be true or false");
    }
    n->set_user_is_target(target->GetBool());
  }

  // The spec's default is high; making it explicit spares every consumer the
  // UNSPECIFIED case.
  n->set_prio(herald::v1::PRIORITY_HIGH);
  if (const Value* prio = Member(json, "prio"); prio != nullptr) {
    if (IsText(*prio) && Text(*prio) == "high") {
      n->set_prio(herald::v1::PRIORITY_HIGH);
    } else if (IsText(*prio) && Text(*prio) == "low") {
      n->set_prio(herald::v1::PRIORITY_LOW);
    } else {
      return BadField("notification.prio", "must be \"high\" or \"low\"");
    }
  }

  if (absl::Status error =
          OptionalObjectText(json, "notification", "content", n->mutable_content_json());
      !error.ok())
    return error;
  if (absl::Status error = ParseCounts(json, n); !error.ok()) return error;

  const Value* devices = Member(json, "devices");
  if (devices == nullptr || !devices->IsArray() || devices->Empty()) {
    return BadField("notification.devices", "must be a non-empty array");
  }
  for (SizeType i = 0; i < devices->Size(); ++i) {
    if (absl::Status error = ParseDevice((*devices)[i], i, n->add_devices()); !error.ok())
      return error;
  }
  return absl::OkStatus();
}

}  // namespace

const char* ErrCode(const absl::Status& status) {
  return status.GetPayload(kNotJsonPayload).has_value() ? "M_NOT_JSON" : "M_BAD_JSON";
}

absl::Status ParseNotifyBody(absl::string_view body, Notification* out) {
  rapidjson::Document doc;
  if (absl::Status error = ParseJson(body, &doc); !error.ok()) return error;
  if (!doc.IsObject()) return BadJson("body must be a JSON object");

  const Value* json = Member(doc, "notification");
  if (json == nullptr || !json->IsObject()) {
    return BadField("notification", "must be an object");
  }
  // Built aside so that `out` is untouched on error.
  Notification parsed;
  if (absl::Status error = ParseNotification(*json, &parsed); !error.ok()) return error;
  *out = std::move(parsed);
  return absl::OkStatus();
}

}  // namespace herald::bridge
