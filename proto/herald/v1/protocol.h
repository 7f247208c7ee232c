// Conventions of the herald.v1 contract that the .proto cannot express.
#pragma once

#include "grpcpp/support/status.h"

namespace herald::v1 {

// A request a draining dispatcher did not start: nothing was pushed, and the
// caller may send it to another dispatcher. On DispatchStream each such
// result has `not_started` set. The stream's own end, once the requests the
// dispatcher took are done, is UNAVAILABLE with the trailing metadata
// `herald-not-started: 1` (any gRPC implementation can read it).
inline constexpr char kNotStartedTrailer[] = "herald-not-started";
inline constexpr char kDispatcherDrainingMessage[] = "dispatcher draining";

// Inside the bridge: the status its callbacks get for a request that was
// not started (the error details mark it; they never go on the wire).
inline constexpr char kNotStartedDetails[] = "herald.v1.not_started";
inline grpc::Status NotStartedStatus() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, kDispatcherDrainingMessage,
                      kNotStartedDetails);
}
inline bool IsNotStarted(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE &&
         status.error_details() == kNotStartedDetails;
}

}  // namespace herald::v1
