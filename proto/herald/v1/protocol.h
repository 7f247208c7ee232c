// Conventions of the herald.v1 contract that the .proto cannot express.
#pragma once

#include <string>

#include "grpcpp/support/status.h"
#include "proto/herald/v1/herald.pb.h"

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

// A trace id (DispatchRequest.trace_id, x-request-id metadata) fit for log
// lines: 1 to 128 visible ASCII characters other than '"' and '\'.
inline bool UsableTraceId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') return false;
  }
  return true;
}

// The id the dispatcher shows in its log lines about `request`.
inline const std::string& LogId(const DispatchRequest& request) {
  return UsableTraceId(request.trace_id()) ? request.trace_id() : request.request_id();
}

}  // namespace herald::v1
