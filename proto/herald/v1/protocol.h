// Conventions of the herald.v1 contract that the .proto cannot express.
#pragma once

namespace herald::v1 {

// The message of UNAVAILABLE results (and of the stream's end) that a
// draining dispatcher gives for DispatchStream requests it did not start:
// the caller may send them to another dispatcher without pushing twice.
inline constexpr char kDispatcherDrainingMessage[] = "dispatcher draining";

}  // namespace herald::v1
