// What the bridge answers a homeserver for a notify request, given the
// dispatcher's answer: the whole outcome policy of design.md ("Outcome
// rules") in one pure function, so it can be read and tested as a table.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "grpcpp/support/status.h"
#include "proto/herald/v1/herald.pb.h"

namespace herald::bridge {

struct NotifyAnswer {
  int status = 200;
  std::string body;                                          // JSON
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Retry-After
};

// 200 {"rejected":[...]} only when every device was delivered, skipped,
// dropped or rejected. Otherwise: a device that could not be pushed → 502
// (with the longest Retry-After a provider asked for); devices shed by the
// in-flight limit → 429 M_LIMIT_EXCEEDED with Retry-After; the dispatcher
// unavailable → 503, past the deadline → 504, a request it refused → 400.
// `response` is read only when `status` is OK.
NotifyAnswer AnswerFor(const grpc::Status& status, const herald::v1::DispatchResponse* response);

// The Matrix error body {"errcode":..., "error":...}.
std::string MatrixErrorBody(absl::string_view errcode, absl::string_view message);
// An answer with that body.
NotifyAnswer MatrixError(int status, absl::string_view errcode, absl::string_view message);

}  // namespace herald::bridge
