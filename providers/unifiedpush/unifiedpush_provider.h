// UnifiedPush (`type: unifiedpush`): the pushkey is the distributor's endpoint
// URL; the notification JSON (without devices) is POSTed to it.
//
// Threads: Push() runs on a work-pool thread; the HTTP answer and `done` on
// the HTTP client's loop thread (or on the resolver's thread when a proxied
// endpoint's host is refused).
// An outcome known before sending (rejected pushkey, skipped, deadline
// passed) calls `done` right away, on the pool thread.
#pragma once

#include <string>
#include <vector>

#include "http/endpoint.h"
#include "http/http_client.h"
#include "http/upstream_metrics.h"
#include "providers/common/push_helpers.h"

namespace herald::providers {

struct UnifiedPushOptions {
  CommonAppOptions common;
  std::vector<std::string> allowed_endpoints;  // host globs; empty = any host
  bool allow_private_addresses = false;
  int64_t ttl_seconds = 900;
};

// Distributors guarantee this many bytes of body; larger ones may get 413.
inline constexpr size_t kMaxUnifiedPushBody = 4096;

// A notify body ({"notification":{...}}) cut to kMaxUnifiedPushBody:
// content.body, then the names, then content dropped (FitJsonObject).
// Unchanged when it fits, or when nothing makes it fit.
std::string FitUnifiedPushBody(std::string body);

// Upstream answer → outcome (design.md, "Outcome rules": UnifiedPush row).
Outcome ClassifyUnifiedPushResponse(const http::HttpResponse& response, absl::Time now);

class UnifiedPushProvider : public Provider {
 public:
  UnifiedPushProvider(std::string app_id, UnifiedPushOptions options, http::HttpClient* http);
  void Push(const PushRequest& request, std::function<void(Outcome)> done) override;

 private:
  std::string app_id_;
  UnifiedPushOptions options_;
  http::HostAllowList allowed_;
  http::HttpClient* http_;
  const http::UpstreamMetrics* metrics_;
};

}  // namespace herald::providers
