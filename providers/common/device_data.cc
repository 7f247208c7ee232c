#include "providers/common/device_data.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"

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

std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now) {
  value = absl::StripAsciiWhitespace(value);
  if (value.empty()) return std::nullopt;
  int64_t seconds = 0;
  if (absl::SimpleAtoi(value, &seconds)) {
    if (seconds < 0) return std::nullopt;
    return absl::Seconds(std::min<int64_t>(seconds, 86400));
  }
  absl::Time when;
  std::string err;
  // IMF-fixdate, e.g. "Wed, 21 Oct 2015 07:28:00 GMT".
  if (absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", std::string(value), absl::UTCTimeZone(),
                      &when, &err)) {
    // Capped like delta-seconds: a date far ahead would overflow later sums.
    return std::clamp(when - now, absl::ZeroDuration(), absl::Seconds(86400));
  }
  return std::nullopt;
}

}  // namespace herald::providers
