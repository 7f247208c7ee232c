#include "providers/common/provider.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "absl/synchronization/mutex.h"
#include "providers/common/device_data.h"

namespace herald::providers {
namespace {

struct Registry {
  absl::Mutex mu;
  std::map<std::string, ProviderFactory> factories ABSL_GUARDED_BY(mu);
  std::map<std::string, ProviderCommand> commands ABSL_GUARDED_BY(mu);
};

Registry& GetRegistry() {
  static Registry* registry = new Registry();
  return *registry;
}

}  // namespace

const char* OutcomeKindName(Outcome::Kind kind) {
  switch (kind) {
    case Outcome::Kind::kDelivered:
      return "delivered";
    case Outcome::Kind::kRejected:
      return "rejected";
    case Outcome::Kind::kRetry:
      return "retry";
    case Outcome::Kind::kFailed:
      return "failed";
    case Outcome::Kind::kSkipped:
      return "skipped";
    case Outcome::Kind::kLimited:
      return "limited";
    case Outcome::Kind::kDropped:
      return "dropped";
  }
  return "?";
}

Outcome TransportRetry(const http::HttpResponse& r) {
  return Outcome::Retry(
      absl::StrCat("transport error (", http::TransportErrorName(r.error), "): ", r.error_detail));
}

Outcome RetryAfterAnswer(std::string detail, const http::HttpResponse& r, absl::Time now) {
  return Outcome::Retry(std::move(detail), ParseRetryAfter(r.Header("retry-after"), now)
                                               .value_or(absl::ZeroDuration()));
}

void LogOutcome(const char* component, const std::string& request_id,
                const std::string& app_id, const std::string& shown_key,
                const Outcome& outcome) {
  if (outcome.kind == Outcome::Kind::kFailed) {
    HERALD_LOG(kError, component, "[", request_id, "] app ", app_id, " pushkey ", shown_key,
               ": ", outcome.detail);
  } else {
    HERALD_LOG(kDebug, component, "[", request_id, "] app ", app_id, " pushkey ", shown_key,
               " → ", OutcomeKindName(outcome.kind), " ", outcome.detail);
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

std::optional<absl::Duration> AttemptTimeout(const CommonAppOptions& options,
                                             absl::Time deadline, absl::Time now) {
  const absl::Duration remaining = deadline - now;
  if (remaining <= absl::ZeroDuration()) return std::nullopt;
  return std::min(options.timeout, remaining);
}

Outcome DeadlinePassed() { return Outcome::Retry("deadline passed before sending"); }

void ProviderRegistry::Register(const std::string& type, ProviderFactory factory) {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  r.factories[type] = std::move(factory);
}

const ProviderFactory* ProviderRegistry::Find(const std::string& type) {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  auto it = r.factories.find(type);
  return it == r.factories.end() ? nullptr : &it->second;
}

std::vector<std::string> ProviderRegistry::Types() {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  std::vector<std::string> out;
  for (const auto& [type, factory] : r.factories) out.push_back(type);
  return out;
}

void ProviderRegistry::RegisterCommand(const std::string& name, ProviderCommand command) {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  r.commands[name] = std::move(command);
}

const ProviderCommand* ProviderRegistry::FindCommand(const std::string& name) {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  auto it = r.commands.find(name);
  return it == r.commands.end() ? nullptr : &it->second;
}

std::vector<std::string> ProviderRegistry::Commands() {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  std::vector<std::string> out;
  for (const auto& [name, command] : r.commands) out.push_back(name);
  return out;
}

}  // namespace herald::providers
