// Reading a device's `data` (the pusher's data from the homeserver).
#pragma once

#include <optional>

#include "absl/time/time.h"
#include "proto/herald/v1/herald.pb.h"
#include "rapidjson/document.h"

namespace herald::providers {

struct DeviceData {
  // data.format == "event_id_only"
  bool event_id_only = false;
  // The whole data object (empty object when absent or unparsable).
  rapidjson::Document doc;
};

DeviceData ParseDeviceData(const herald::v1::Device& device);

// A client setting the app put in the pusher's data (Sygnal reads
// `events_only` and `only_last_per_room` there): the JSON boolean at `key`,
// or `fallback` (the app config's value) when absent or not a boolean.
bool DataFlag(const DeviceData& data, const char* key, bool fallback);

}  // namespace herald::providers
