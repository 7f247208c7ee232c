#include "providers/common/device_data.h"

namespace herald::providers {

DeviceData ParseDeviceData(const herald::v1::Device& device) {
  DeviceData out;
  out.doc.SetObject();
  if (device.data_json().empty()) return out;
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseFullPrecisionFlag>(device.data_json().data(),
                                                device.data_json().size());
  if (doc.HasParseError() || !doc.IsObject()) return out;
  out.doc.Swap(doc);
  auto format = out.doc.FindMember("format");
  out.event_id_only = format != out.doc.MemberEnd() && format->value.IsString() &&
                      absl::string_view(format->value.GetString(),
                                        format->value.GetStringLength()) == "event_id_only";
  return out;
}

bool DataFlag(const DeviceData& data, const char* key, bool fallback) {
  auto it = data.doc.FindMember(key);
  if (it == data.doc.MemberEnd() || !it->value.IsBool()) return fallback;
  return it->value.GetBool();
}

}  // namespace herald::providers
