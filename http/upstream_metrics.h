// Per-app metrics of the requests providers send upstream (APNs, FCM, Web
// Push services, UnifiedPush distributors). A provider puts its app's
// UpstreamMetrics in HttpRequest::metrics and the HttpClient records them,
// so every provider is measured the same way, from Send to completion.
#pragma once

#include <array>
#include <atomic>
#include <string>

#include "absl/time/time.h"
#include "common/metrics.h"

namespace herald::http {

class UpstreamMetrics {
 public:
  // The metrics of the app labelled `app_label` (its id or pattern as
  // configured), made on first use. They live as long as the process, so
  // the providers a config reload builds keep counting where the old ones
  // were.
  static const UpstreamMetrics* For(const std::string& app_label);

  UpstreamMetrics(const UpstreamMetrics&) = delete;
  UpstreamMetrics& operator=(const UpstreamMetrics&) = delete;

  // A request was handed to the HTTP client.
  void Started() const;
  // It ended `elapsed` after Started(): answered with HTTP `status`, or
  // with 0 when no answer came (a transport failure: code="error").
  void Finished(int status, absl::Duration elapsed) const;

 private:
  explicit UpstreamMetrics(const std::string& app_label);

  const MetricLabels labels_;  // {app: ...}
  Histogram* const duration_;
  Gauge* const in_flight_;
  // herald_upstream_responses_total by status; 0 is code="error".
  const ByStatusCode<Counter> responses_;
};

}  // namespace herald::http
