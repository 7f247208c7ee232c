// Conventions of the herald.v1 contract that the .proto cannot express.
#pragma once

#include "grpcpp/support/status.h"

namespace herald::v1 {

// A request a draining dispatcher did not start: nothing was pushed, and the
// caller may send it to another dispatcher. On DispatchStream each such
// result has `not_started` set; the stream's own end (once the requests the
// dispatcher took are done) carries these error details, with UNAVAILABLE.
inline constexpr char kNotStartedDetails[] = "herald.v1.not_started";
inline constexpr char kDispatcherDrainingMessage[] = "dispatcher draining";

inline grpc::Status NotStartedStatus() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, kDispatcherDrainingMessage,
                      kNotStartedDetails);
}

// True for the status of a request that was not started (see above).
inline bool IsNotStarted(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE &&
         status.error_details() == kNotStartedDetails;
}

}  // namespace herald::v1
