// Renders a herald.v1 Notification back into Matrix Push Gateway JSON, for
// providers that forward the notification itself (UnifiedPush, Web Push) and
// for tests.
//
// Pure: no I/O.

#pragma once

#include <string>

#include "proto/herald/v1/herald.pb.h"

namespace herald::providers {

struct NotificationJsonOptions {
  // Adds the `devices` array. Off by default: a notification forwarded to one
  // device must not disclose the others' pushkeys.
  bool include_devices = false;
  // The pusher's `format: "event_id_only"`: only event_id, room_id, counts
  // (and devices, if included) are written.
  bool event_id_only = false;
};

// Renders `n` as the Matrix `notification` object {"event_id": ..., ...}:
// compact, only the fields that are set, in the spec's order. `prio` is always
// written ("high" unless PRIORITY_LOW). content_json, data_json and
// tweaks_json are embedded verbatim, so they must hold valid JSON objects (the
// bridge guarantees it; direct callers of the dispatcher must too).
std::string NotificationToJson(const herald::v1::Notification& n,
                               const NotificationJsonOptions& opts);

// Renders `n` as a whole notify body: {"notification": {...}}.
std::string NotifyBodyJson(const herald::v1::Notification& n, const NotificationJsonOptions& opts);

}  // namespace herald::providers
