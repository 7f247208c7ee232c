// For the providers' payload tests: the push gateway spec's example
// notification ("Major Tom", "I'm floating in a most peculiar way.") as the
// dispatcher receives it. Tests add what their case needs on top.
#pragma once

#include "proto/herald/v1/herald.pb.h"

namespace herald::providers {

inline herald::v1::Notification SpecNotification() {
  herald::v1::Notification n;
  n.set_event_id("$3957tyerfgewrf384");
  n.set_room_id("!slw48wfj34rtnrf:example.com");
  n.set_type("m.room.message");
  n.set_sender("@exampleuser:matrix.org");
  n.set_sender_display_name("Major Tom");
  n.set_room_name("Mission Control");
  n.set_content_json(R"({"msgtype":"m.text","body":"I'm floating in a most peculiar way."})");
  n.mutable_counts()->set_unread(2);
  n.mutable_counts()->set_missed_calls(1);
  return n;
}

}  // namespace herald::providers
