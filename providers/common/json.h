// Small rapidjson helpers shared by the payload builders (APNs, FCM, Web Push).
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace herald::providers {

// The bytes of a JSON string value (which may hold NULs).
inline absl::string_view View(const rapidjson::Value& s) {
  return absl::string_view(s.GetString(), s.GetStringLength());
}

// A JSON string value holding a copy of `s`.
inline rapidjson::Value StringValue(absl::string_view s,
                                    rapidjson::Document::AllocatorType& alloc) {
  return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
}

// Compact JSON text of `v`.
inline std::string Serialize(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace herald::providers
