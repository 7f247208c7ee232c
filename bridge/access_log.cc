#include "bridge/access_log.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "proto/herald/v1/protocol.h"

namespace herald::bridge {

std::string UsableRequestId(absl::string_view header) {
  std::string id(header);
  return herald::v1::UsableTraceId(id) ? id : "";  // the dispatcher's own rule
}

std::string ClientAddress(absl::string_view peer, absl::string_view x_forwarded_for_header,
                          bool x_forwarded_for) {
  if (x_forwarded_for) {
    absl::string_view first = x_forwarded_for_header.substr(0, x_forwarded_for_header.find(','));
    first = absl::StripAsciiWhitespace(first);
    // Only what could be an address: no spaces or quotes in a log line.
    std::string usable = UsableRequestId(first);
    if (!usable.empty()) return usable;
  }
  return std::string(peer);
}

void CountOutcomes(const herald::v1::DispatchResponse& response, AccessRecord* record) {
  for (const herald::v1::DeviceOutcome& o : response.outcomes()) {
    switch (o.outcome()) {
      case herald::v1::OUTCOME_DELIVERED:
        ++record->delivered;
        break;
      case herald::v1::OUTCOME_REJECTED:
        ++record->rejected;
        break;
      case herald::v1::OUTCOME_DROPPED:
        ++record->dropped;
        break;
      default:
        ++record->other;
    }
  }
}

std::string AccessLine(const AccessRecord& r) {
  return absl::StrFormat(
      "access request_id=%s client=%s status=%d devices=%d delivered=%d rejected=%d dropped=%d "
      "other=%d duration_ms=%.1f",
      r.request_id, r.client.empty() ? "-" : r.client, r.status, r.devices, r.delivered, r.rejected,
      r.dropped, r.other, absl::ToDoubleMilliseconds(r.duration));
}

}  // namespace herald::bridge
