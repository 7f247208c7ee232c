// The bridge's access log: one line per notify request, in logfmt
// (key=value) so that both a reader and a log pipeline can take it apart:
//
//   access request_id=4f2a… client=203.0.113.5 status=200 devices=2
//   delivered=1 rejected=1 dropped=0 other=0 duration_ms=3.2
//
// and the request id a caller may give (X-Request-Id). Pure: no I/O.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/herald/v1/herald.pb.h"

namespace herald::bridge {

// X-Request-Id as given when it is usable in logs and headers (the same rule
// as herald::v1::UsableTraceId, which the dispatcher applies); else "" (the
// bridge then makes one).
std::string UsableRequestId(absl::string_view header);

// The client address to log: the peer's, or with `x_forwarded_for` the
// left-most entry of X-Forwarded-For when there is one (as Sygnal, behind a
// reverse proxy that sets it).
std::string ClientAddress(absl::string_view peer, absl::string_view x_forwarded_for_header,
                          bool x_forwarded_for);

struct AccessRecord {
  std::string request_id;
  std::string client;
  int status = 0;
  int devices = 0;  // in the request (0 when it did not parse)
  // From the dispatcher's answer (all 0 without one). `other`: retry,
  // failed, limited, skipped.
  int delivered = 0, rejected = 0, dropped = 0, other = 0;
  absl::Duration duration;
};

// Counts `response`'s outcomes into `record`.
void CountOutcomes(const herald::v1::DispatchResponse& response, AccessRecord* record);

// The line, without the log's own time, level and component.
std::string AccessLine(const AccessRecord& record);

}  // namespace herald::bridge
