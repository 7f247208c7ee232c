// Pieces every provider shares: answer classification, the keys every app
// takes, attempt timeouts, logging an outcome, the app's HTTP client.
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "http/endpoint.h"
#include "http/http_client.h"
#include "proto/herald/v1/herald.pb.h"
#include "providers/api/provider.h"

namespace herald::providers {

// Shared pieces of every provider's answer classification:
// a transport failure (timeout, reset, TLS, ...) is worth another attempt;
Outcome TransportRetry(const http::HttpResponse& response);
// a 429/5xx is retried after the upstream's Retry-After, if it gave one.
Outcome RetryAfterAnswer(std::string detail, const http::HttpResponse& response, absl::Time now);

// The HTTP status of a push endpoint the device gave (a UnifiedPush
// distributor, a Web Push service): 2xx delivered; 404/410 gone, rejected;
// 413 and 400 (this message is refused, the subscription is fine) dropped;
// 429 and 5xx retried (honouring Retry-After); anything else failed. The
// detail reads "<who> answered <status>". `response` must be ok().
Outcome ClassifyEndpointAnswer(const http::HttpResponse& response, absl::string_view who,
                               absl::Time now);

// Parses a Retry-After header: delta-seconds or an HTTP-date. nullopt when
// absent or unparsable; never negative.
std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now);

// Logs one push's outcome: failures (config, credentials) as errors, the
// rest at debug. `shown_key` is the redacted pushkey.
void LogOutcome(const char* component, const std::string& request_id, const std::string& app_id,
                const std::string& shown_key, const Outcome& outcome);

// The keys every provider takes.
struct CommonAppOptions {
  std::string endpoint;  // base URL override
  std::string ca_file;
  absl::Duration timeout = absl::Seconds(10);
};
// Reads endpoint, ca_file, timeout from `map`. (inflight_request_limit is
// the dispatcher's: dispatcher/app_registry.cc.)
CommonAppOptions ReadCommonAppOptions(ConfigMap& map);

// How long the next attempt may take: the app's `timeout`, cut to what is
// left before `deadline`. Nullopt when nothing is left: answer DeadlinePassed().
std::optional<absl::Duration> AttemptTimeout(const CommonAppOptions& options, absl::Time deadline,
                                             absl::Time now);
Outcome DeadlinePassed();

// `allowed_endpoints` refuses `endpoint`'s host: the operator's choice, not
// the pushkey's fault, so the push is skipped (not sent, the pusher kept: it
// pushes again once the list allows it) and the refusal logged. nullopt when
// the host is allowed.
std::optional<Outcome> SkipUnlessAllowed(const http::HostAllowList& allowed,
                                         const http::HttpEndpoint& endpoint, const char* component,
                                         const std::string& request_id, const std::string& app_id);

// `n`, or with send_badge_counts false a copy without counts (Sygnal's
// send_badge_counts: no badge, no unread/missed_calls). The copy lives until
// the end of the full expression.
class WithoutCounts {
 public:
  WithoutCounts(const herald::v1::Notification& n, bool send_badge_counts) : n_(n) {
    if (!send_badge_counts && n.has_counts()) {
      copy_ = n;
      copy_->clear_counts();
    }
  }
  operator const herald::v1::Notification&() const { return copy_ ? *copy_ : n_; }

 private:
  const herald::v1::Notification& n_;
  std::optional<herald::v1::Notification> copy_;
};

// An HTTP client of the app's own with at most `max_connections` per host
// (env.new_http_client), or the shared one where there is no factory.
http::HttpClient* AppHttpClient(const ProviderEnv& env, int max_connections);

}  // namespace herald::providers
