#include "providers/webpush/webpush_payload.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "providers/common/device_data.h"
#include "providers/common/encoding.h"
#include "providers/common/fit_json.h"
#include "providers/common/json.h"
#include "providers/common/utf8.h"
#include "rapidjson/document.h"

namespace herald::providers::webpush {
namespace {

using ::herald::v1::Device;
using ::herald::v1::Notification;
using Value = ::rapidjson::Value;
using Allocator = ::rapidjson::Document::AllocatorType;

// Nesting limit for the JSON objects copied into the payload. The bridge
// already stops at 256 levels; this bounds the (recursive) copy and
// serialization for callers of the gRPC API that skip the bridge.
constexpr int kMaxDepth = 512;

// Iterative parse (no recursion on deep input), numbers at full precision.
constexpr unsigned kParseFlags =
    rapidjson::kParseFullPrecisionFlag | rapidjson::kParseIterativeFlag;

// Builds a JSON object in which setting an existing key replaces its value
// in place (Python dict semantics: first position, last value).
class ObjectBuilder {
 public:
  ObjectBuilder(Value& obj, Allocator& alloc) : obj_(obj), alloc_(alloc) { obj_.SetObject(); }

  // Moves `value` into the object (leaves it null).
  void Set(absl::string_view name, Value& value) {
    auto [it, inserted] = index_.try_emplace(std::string(name), obj_.MemberCount());
    if (!inserted) {
      (obj_.MemberBegin() + it->second)->value = value;
      return;
    }
    Value key = StringValue(name, alloc_);
    obj_.AddMember(key, value, alloc_);
  }
  void Set(absl::string_view name, Value&& value) { Set(name, value); }

 private:
  Value& obj_;
  Allocator& alloc_;
  absl::flat_hash_map<std::string, rapidjson::SizeType> index_;
};

// Deep copy of `in` into `out` with duplicate object keys merged. False if
// nesting goes deeper than kMaxDepth.
bool CopyMerged(const Value& in, Value& out, Allocator& alloc, int depth) {
  if (depth > kMaxDepth) return false;
  if (in.IsObject()) {
    ObjectBuilder builder(out, alloc);
    for (const auto& m : in.GetObject()) {
      Value v;
      if (!CopyMerged(m.value, v, alloc, depth + 1)) return false;
      builder.Set(View(m.name), v);
    }
    return true;
  }
  if (in.IsArray()) {
    out.SetArray();
    out.Reserve(in.Size(), alloc);
    for (const auto& e : in.GetArray()) {
      Value v;
      if (!CopyMerged(e, v, alloc, depth + 1)) return false;
      out.PushBack(v, alloc);
    }
    return true;
  }
  out.CopyFrom(in, alloc);
  return true;
}

// True if `v` nests containers more than `levels` deep.
bool TooDeep(const Value& v, int levels) {
  if (!v.IsObject() && !v.IsArray()) return false;
  if (levels <= 0) return true;
  if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      if (TooDeep(m.value, levels - 1)) return true;
    }
  } else {
    for (const auto& e : v.GetArray()) {
      if (TooDeep(e, levels - 1)) return true;
    }
  }
  return false;
}

}  // namespace

std::string BuildWebPushPayload(const Notification& n, const Device& device) {
  return BuildWebPushPayload(n, ParseDeviceData(device));
}

std::string BuildWebPushPayload(const Notification& n, const DeviceData& data) {
  rapidjson::Document doc;
  Allocator& alloc = doc.GetAllocator();
  ObjectBuilder payload(doc, alloc);

  if (auto it = data.doc.FindMember("default_payload");
      it != data.doc.MemberEnd() && it->value.IsObject()) {
    Value copy;
    if (CopyMerged(it->value, copy, alloc, 1)) {
      for (auto& m : copy.GetObject()) payload.Set(View(m.name), m.value);
    }
  }

  const auto set_string = [&](absl::string_view name, bool has, const std::string& value) {
    if (has && !value.empty()) payload.Set(name, StringValue(value, alloc));
  };
  set_string("room_id", n.has_room_id(), n.room_id());
  set_string("room_name", n.has_room_name(), n.room_name());
  set_string("room_alias", n.has_room_alias(), n.room_alias());
  set_string("membership", n.has_membership(), n.membership());
  set_string("event_id", n.has_event_id(), n.event_id());
  set_string("sender", n.has_sender(), n.sender());
  set_string("sender_display_name", n.has_sender_display_name(), n.sender_display_name());
  if (n.has_user_is_target() && n.user_is_target()) payload.Set("user_is_target", Value(true));
  set_string("type", n.has_type(), n.type());

  if (n.has_counts()) {
    if (n.counts().has_unread()) {
      payload.Set("unread", Value(static_cast<int64_t>(n.counts().unread())));
    }
    if (n.counts().has_missed_calls()) {
      payload.Set("missed_calls", Value(static_cast<int64_t>(n.counts().missed_calls())));
    }
  }

  if (!n.content_json().empty()) {
    rapidjson::Document parsed;
    parsed.Parse<kParseFlags>(n.content_json().data(), n.content_json().size());
    Value content;
    if (!parsed.HasParseError() && parsed.IsObject() && CopyMerged(parsed, content, alloc, 1)) {
      // Web notifications cannot show HTML anyway.
      content.EraseMember("formatted_body");
      if (auto body = content.FindMember("body");
          body != content.MemberEnd() && body->value.IsString()) {
        const absl::string_view text = View(body->value);
        if (CutToChars(text, kMaxBodyChars).size() < text.size()) {  // longer than that
          const std::string cut = CutToChars(text, kMaxBodyChars - 1) + std::string(kEllipsis);
          body->value = StringValue(cut, alloc);
        }
      }
      payload.Set("content", content);
    }
  }
  return Serialize(doc);
}

std::optional<std::string> FitWebPushPayload(const std::string& payload, size_t max_bytes) {
  if (payload.size() <= max_bytes) return payload;
  rapidjson::Document doc;
  doc.Parse<kParseFlags>(payload.data(), payload.size());
  if (doc.HasParseError() || !doc.IsObject() || TooDeep(doc, kMaxDepth + 2)) {
    return std::nullopt;
  }
  static const std::vector<FitStep>* const steps =
      new std::vector<FitStep>(NotificationFitSteps({}));
  return FitJsonObject(doc, max_bytes, *steps);
}

std::string RoomTopic(absl::string_view room_id) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(room_id.data(), room_id.size(), digest, &len, EVP_sha256(), nullptr) != 1 ||
      len != 32) {
    return std::string();
  }
  std::string topic =
      Base64UrlEncode(absl::string_view(reinterpret_cast<const char*>(digest), len));
  topic.resize(32);
  return topic;
}

}  // namespace herald::providers::webpush
