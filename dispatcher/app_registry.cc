#include "dispatcher/app_registry.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/glob.h"

namespace herald::dispatcher {

AppCounters::AppCounters(const std::string& app_label)
    : attempts(Metrics::Global().GetCounter("herald_push_attempts_total",
                                            "Upstream push attempts, by app.",
                                            Labels({{"app", app_label}}))) {
  for (int k = 0; k < providers::Outcome::kKinds; ++k) {
    outcomes[k] = Metrics::Global().GetCounter(
        "herald_pushes_total", "Pushes by app and final outcome.",
        Labels(
            {{"app", app_label},
             {"outcome", providers::OutcomeKindName(static_cast<providers::Outcome::Kind>(k))}}));
  }
}

AppRegistry::AppRegistry(std::vector<App> apps,
                         std::vector<std::unique_ptr<http::HttpClient>> clients)
    : apps_(std::move(apps)), clients_(std::move(clients)) {
  for (App& app : apps_) {
    if (app.counters == nullptr) app.counters = std::make_unique<AppCounters>(app.pattern);
  }
}

absl::StatusOr<std::unique_ptr<AppRegistry>> AppRegistry::Build(
    const Config& config, const providers::ProviderEnv& env, const HttpClientFactory& make_client,
    std::vector<std::string>* warnings) {
  std::vector<App> apps;
  std::vector<std::unique_ptr<http::HttpClient>> clients;
  providers::ProviderEnv app_env = env;
  app_env.new_http_client = nullptr;
  if (make_client) {
    app_env.new_http_client = [&clients, &env, &make_client](const http::HttpClientOptions& asked) {
      http::HttpClientOptions options = asked;
      options.proxy = env.proxy;  // every provider's traffic, as Sygnal's `proxy`
      clients.push_back(make_client(options));
      return clients.back().get();
    };
  }
  for (const AppConfig& app : config.apps) {
    ConfigMap map(app.node, config.file, absl::StrCat("apps.", app.pattern));
    map.Accept("type");
    const providers::ProviderFactory* factory = providers::ProviderRegistry::Find(app.type);
    if (factory == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          config.file, ": apps.", app.pattern, ".type: unknown provider type '", app.type,
          "' (known: ", absl::StrJoin(providers::ProviderRegistry::Types(), ", "), ")"));
    }
    const int64_t limit = map.Int("inflight_request_limit", 512, 1, 1000000);
    absl::StatusOr<std::unique_ptr<providers::Provider>> provider =
        (*factory)(app.pattern, map, app_env);
    if (!provider.ok()) return provider.status();
    if (!map.status().ok()) return map.status();
    for (std::string& w : map.UnknownKeyWarnings()) warnings->push_back(std::move(w));
    apps.push_back(
        App{app.pattern, app.type, std::move(*provider), std::make_unique<InflightLimiter>(limit)});
  }
  return std::make_unique<AppRegistry>(std::move(apps), std::move(clients));
}

AppMatch AppRegistry::Match(const std::string& app_id) const {
  const App* glob_match = nullptr;
  int glob_matches = 0;
  for (const App& app : apps_) {
    if (app.pattern == app_id) return AppMatch{&app, ""};
    if (IsGlob(app.pattern) && GlobMatch(app.pattern, app_id)) {
      ++glob_matches;
      glob_match = &app;
    }
  }
  if (glob_matches == 1) return AppMatch{glob_match, ""};
  if (glob_matches == 0) return AppMatch{nullptr, "unknown app_id"};
  return AppMatch{nullptr, absl::StrCat("app_id matches ", glob_matches, " app globs")};
}

}  // namespace herald::dispatcher
