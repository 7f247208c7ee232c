#include "providers/common/notification_json.h"

#include <string>

#include "proto/herald/v1/herald.pb.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace herald::providers {
namespace {

using ::herald::v1::Notification;
using JsonWriter = ::rapidjson::Writer<::rapidjson::StringBuffer>;

void WriteString(JsonWriter* w, const char* key, const std::string& value) {
  w->Key(key);
  // Explicit length: proto strings may hold NUL (from "\u0000").
  w->String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

// Embeds stored JSON text as is: re-parsing would cost time and could alter
// numbers that do not fit a double.
void WriteRawObject(JsonWriter* w, const char* key, const std::string& json) {
  w->Key(key);
  w->RawValue(json.data(), json.size(), rapidjson::kObjectType);
}

void WriteCounts(JsonWriter* w, const herald::v1::Counts& counts) {
  w->Key("counts");
  w->StartObject();
  if (counts.has_unread()) {
    w->Key("unread");
    w->Int64(counts.unread());
  }
  if (counts.has_missed_calls()) {
    w->Key("missed_calls");
    w->Int64(counts.missed_calls());
  }
  w->EndObject();
}

void WriteDevices(JsonWriter* w, const Notification& n) {
  w->Key("devices");
  w->StartArray();
  for (const herald::v1::Device& device : n.devices()) {
    w->StartObject();
    WriteString(w, "app_id", device.app_id());
    WriteString(w, "pushkey", device.pushkey());
    if (device.has_pushkey_ts()) {
      w->Key("pushkey_ts");
      w->Int64(device.pushkey_ts());
    }
    // Empty text is the proto's "absent".
    if (!device.data_json().empty()) {
      WriteRawObject(w, "data", device.data_json());
    }
    if (!device.tweaks_json().empty()) {
      WriteRawObject(w, "tweaks", device.tweaks_json());
    }
    w->EndObject();
  }
  w->EndArray();
}

void WriteNotification(JsonWriter* w, const Notification& n, const NotificationJsonOptions& opts) {
  w->StartObject();
  if (n.has_event_id()) WriteString(w, "event_id", n.event_id());
  if (n.has_room_id()) WriteString(w, "room_id", n.room_id());
  if (!opts.event_id_only) {
    if (n.has_type()) WriteString(w, "type", n.type());
    if (n.has_sender()) WriteString(w, "sender", n.sender());
    if (n.has_sender_display_name()) {
      WriteString(w, "sender_display_name", n.sender_display_name());
    }
    if (n.has_room_name()) WriteString(w, "room_name", n.room_name());
    if (n.has_room_alias()) WriteString(w, "room_alias", n.room_alias());
    if (n.has_membership()) WriteString(w, "membership", n.membership());
    if (n.has_user_is_target()) {
      w->Key("user_is_target");
      w->Bool(n.user_is_target());
    }
    // UNSPECIFIED (and any value unknown to this build) means the spec's
    // default, high.
    w->Key("prio");
    w->String(n.prio() == herald::v1::PRIORITY_LOW ? "low" : "high");
    if (!n.content_json().empty()) {
      WriteRawObject(w, "content", n.content_json());
    }
  }
  if (n.has_counts()) WriteCounts(w, n.counts());
  if (opts.include_devices) WriteDevices(w, n);
  w->EndObject();
}

}  // namespace

std::string NotificationToJson(const Notification& n, const NotificationJsonOptions& opts) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  WriteNotification(&writer, n, opts);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string NotifyBodyJson(const Notification& n, const NotificationJsonOptions& opts) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  writer.Key("notification");
  WriteNotification(&writer, n, opts);
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace herald::providers
