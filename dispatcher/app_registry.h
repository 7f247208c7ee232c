// The configured apps, each with its provider, and the app_id → app lookup:
// an exact app_id wins; otherwise exactly one glob must match.
//
// Threads: a registry does not change once built; Match() and the apps'
// counters and in-flight limiters (atomics) are used from any thread at once.
// Build() runs on the dispatcher's main thread.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "common/metrics.h"
#include "providers/api/provider.h"

namespace herald::dispatcher {

// Bounds the pushes of one app that are waiting on its provider, so that a
// slow or broken app sheds load instead of queueing without end or starving
// the others.
class InflightLimiter {
 public:
  explicit InflightLimiter(int64_t limit) : limit_(limit) {}
  bool TryAcquire() {
    if (in_flight_.fetch_add(1, std::memory_order_relaxed) < limit_) return true;
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  void Release() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }
  int64_t limit() const { return limit_; }

 private:
  const int64_t limit_;
  std::atomic<int64_t> in_flight_{0};
};

// An app's metrics, looked up once rather than per push:
// herald_push_attempts_total{app} and herald_pushes_total{app,outcome}.
struct AppCounters {
  explicit AppCounters(const std::string& app_label);
  Counter* attempts;
  std::array<Counter*, providers::Outcome::kKinds> outcomes;  // by Outcome::Kind
};

struct App {
  std::string pattern;
  std::string type;
  std::unique_ptr<providers::Provider> provider;
  // inflight_request_limit (Sygnal's key; default 512).
  std::unique_ptr<InflightLimiter> limiter = std::make_unique<InflightLimiter>(512);
  // Filled in by AppRegistry.
  std::unique_ptr<AppCounters> counters;
};

struct AppMatch {
  const App* app = nullptr;  // null when unroutable
  std::string reason;        // why unroutable
};

class AppRegistry {
 public:
  // Makes an HTTP client of an app's own (the dispatcher: a CurlHttpClient).
  using HttpClientFactory =
      std::function<std::unique_ptr<http::HttpClient>(const http::HttpClientOptions&)>;

  // Builds every app's provider; the first bad app stops it with the file,
  // key and reason. Unknown keys are appended to `warnings`. HTTP clients
  // that apps ask for (ProviderEnv::new_http_client) are made by
  // `make_client`, with `env.proxy`, and belong to the registry, so a
  // registry replaced on reload takes its clients with it; `env`'s own
  // new_http_client is ignored. Without `make_client` apps use `env.http`.
  static absl::StatusOr<std::unique_ptr<AppRegistry>> Build(const Config& config,
                                                            const providers::ProviderEnv& env,
                                                            const HttpClientFactory& make_client,
                                                            std::vector<std::string>* warnings);

  // For tests: apps given directly.
  explicit AppRegistry(std::vector<App> apps,
                       std::vector<std::unique_ptr<http::HttpClient>> clients = {});

  AppMatch Match(const std::string& app_id) const;
  const std::vector<App>& apps() const { return apps_; }

 private:
  std::vector<App> apps_;
  // The apps' own HTTP clients, destroyed before the apps: a client fails
  // what it still holds (kShutdown) on destruction, and those callbacks run
  // into providers that are still alive. (A registry is only destroyed once
  // no notification holds it, so normally nothing is pending by then.)
  std::vector<std::unique_ptr<http::HttpClient>> clients_;
};

}  // namespace herald::dispatcher
