// Each provider's answer classifier, on any status, headers and body: no
// crash, and the outcome rules that protect pushers hold whatever the body
// says (a 5xx or 429 is never rejected or dropped; only 400, 404 and 410
// ever reject).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/time/clock.h"
#include "providers/apns/apns_provider.h"
#include "providers/gcm/gcm_provider.h"
#include "providers/unifiedpush/unifiedpush_provider.h"
#include "providers/webpush/webpush_provider.h"

using herald::http::HttpResponse;
using herald::providers::Outcome;

namespace {

void Check(const HttpResponse& r, const Outcome& o) {
  if (!r.ok() && (o.kind == Outcome::Kind::kDelivered || o.kind == Outcome::Kind::kDropped)) {
    std::abort();  // a transport failure is never a success or a verdict on the message
  }
  if (r.ok() && (r.status >= 500 || r.status == 429) &&
      (o.kind == Outcome::Kind::kRejected || o.kind == Outcome::Kind::kDropped)) {
    std::abort();
  }
  if (r.ok() && o.kind == Outcome::Kind::kRejected && r.status != 400 && r.status != 404 &&
      r.status != 410) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  HttpResponse r;
  // First byte: a transport error or not; then the status; the rest is
  // "retry-after value \n body".
  if (data[0] & 1) {
    r.error = static_cast<herald::http::TransportError>(1 + data[0] % 7);
  }
  r.status = (data[1] << 8 | data[2]) % 1000;
  std::string rest(reinterpret_cast<const char*>(data + 3), size - 3);
  const size_t newline = rest.find('\n');
  if (newline != std::string::npos) {
    r.headers.emplace_back("retry-after", rest.substr(0, newline));
    rest = rest.substr(newline + 1);
  }
  r.body = rest;
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  Check(r, herald::providers::apns::ClassifyApnsResponse(r, now).outcome);
  Check(r, herald::providers::gcm::ClassifyFcmResponse(r, now).outcome);
  Check(r, herald::providers::webpush::ClassifyWebPushResponse(r, now));
  Check(r, herald::providers::ClassifyUnifiedPushResponse(r, now));
  return 0;
}
