// The bridge's notify JSON parser and validator: no input crashes it, and
// whatever it accepts becomes a protobuf message the dispatcher can parse
// (a string that is not UTF-8 once ended a stream other requests shared).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "bridge/notify_json.h"
#include "proto/herald/v1/herald.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  herald::v1::Notification notification;
  if (!herald::bridge::ParseNotifyBody(body, &notification).ok()) return 0;  // refused: fine
  std::string wire;
  if (!notification.SerializeToString(&wire)) std::abort();
  herald::v1::Notification back;
  if (!back.ParseFromString(wire)) std::abort();
  return 0;
}
