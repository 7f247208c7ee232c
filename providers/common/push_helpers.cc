#include "providers/common/push_helpers.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "providers/common/device_data.h"

namespace herald::providers {

std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now) {
  value = absl::StripAsciiWhitespace(value);
  if (value.empty()) return std::nullopt;
  int64_t seconds = 0;
  if (absl::SimpleAtoi(value, &seconds)) {
    if (seconds < 0) return std::nullopt;
    return absl::Seconds(std::min<int64_t>(seconds, 86400));
  }
  absl::Time when;
  std::string err;
  // IMF-fixdate, e.g. "Wed, 21 Oct 2015 07:28:00 GMT".
  if (absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", std::string(value), absl::UTCTimeZone(), &when,
                      &err)) {
    // Capped like delta-seconds: a date far ahead would overflow later sums.
    return std::clamp(when - now, absl::ZeroDuration(), absl::Seconds(86400));
  }
  return std::nullopt;
}

Outcome TransportRetry(const http::HttpResponse& r) {
  return Outcome::Retry(
      absl::StrCat("transport error (", http::TransportErrorName(r.error), "): ", r.error_detail));
}

Outcome RetryAfterAnswer(std::string detail, const http::HttpResponse& r, absl::Time now) {
  return Outcome::Retry(
      std::move(detail),
      ParseRetryAfter(r.Header("retry-after"), now).value_or(absl::ZeroDuration()));
}

void LogOutcome(const char* component, const std::string& request_id, const std::string& app_id,
                const std::string& shown_key, const Outcome& outcome) {
  if (outcome.kind == Outcome::Kind::kFailed) {
    HERALD_LOG(kError, component, "[", request_id, "] app ", app_id, " pushkey ", shown_key, ": ",
               outcome.detail);
  } else {
    HERALD_LOG(kDebug, component, "[", request_id, "] app ", app_id, " pushkey ", shown_key, " → ",
               OutcomeKindName(outcome.kind), " ", outcome.detail);
  }
}

http::HttpClient* AppHttpClient(const ProviderEnv& env, int max_connections) {
  if (!env.new_http_client) return env.http;
  http::HttpClientOptions options;
  options.max_host_connections = max_connections;
  return env.new_http_client(options);
}

CommonAppOptions ReadCommonAppOptions(ConfigMap& map) {
  CommonAppOptions o;
  o.endpoint = map.String("endpoint", "");
  o.ca_file = map.String("ca_file", "");
  o.timeout = map.Seconds("timeout", o.timeout);
  return o;
}

Outcome ClassifyEndpointAnswer(const http::HttpResponse& response, absl::string_view who,
                               absl::Time now) {
  const int s = response.status;
  if (s >= 200 && s < 300) return Outcome::Delivered();
  std::string detail = absl::StrCat(who, " answered ", s);
  if (s == 404 || s == 410) return Outcome::Rejected(std::move(detail));
  if (s == 413 || s == 400) return Outcome::Dropped(std::move(detail));
  if (s == 429 || s >= 500) return RetryAfterAnswer(std::move(detail), response, now);
  return Outcome::Failed(std::move(detail));
}

std::optional<absl::Duration> AttemptTimeout(const CommonAppOptions& options, absl::Time deadline,
                                             absl::Time now) {
  const absl::Duration remaining = deadline - now;
  if (remaining <= absl::ZeroDuration()) return std::nullopt;
  return std::min(options.timeout, remaining);
}

std::optional<Outcome> SkipUnlessAllowed(const http::HostAllowList& allowed,
                                         const http::HttpEndpoint& endpoint, const char* component,
                                         const std::string& request_id, const std::string& app_id) {
  if (allowed.Allows(endpoint.host, endpoint.port)) return std::nullopt;
  HERALD_LOG(kWarning, component, "[", request_id, "] app ", app_id, ": endpoint host ",
             endpoint.host, " is not in allowed_endpoints; not sent");
  return Outcome::Skipped(absl::StrCat("endpoint host ", endpoint.host, " not allowed"));
}

Outcome DeadlinePassed() {
  return Outcome::Retry("deadline passed before sending").Because(Outcome::Reason::kDeadline);
}

}  // namespace herald::providers
