// herald-dispatcher: the gRPC service that delivers notifications.
//   herald-dispatcher --config FILE
#include <signal.h>

#include <cstring>
#include <iostream>
#include <memory>
#include <algorithm>
#include <thread>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/allocator.h"
#include "common/config.h"
#include "common/log.h"
#include "common/metrics_http.h"
#include "common/service.h"
#include "common/timer_queue.h"
#include "common/work_pool.h"
#include "dispatcher/app_registry.h"
#include "dispatcher/dispatcher_service.h"
#include "grpcpp/grpcpp.h"
#include "http/curl_http_client.h"
#include "providers/webpush/webpush_provider.h"

namespace {

constexpr char kComponent[] = "dispatcher";
constexpr char kUsage[] =
    "usage: herald-dispatcher [--config FILE] [--ready-file FILE] [--check-config]\n"
    "       herald-dispatcher [--config FILE] --print-vapid-public-key APP_ID\n"
    "  without --config: $SYGNAL_CONF, else ./sygnal.yaml\n";

}  // namespace

int main(int argc, char** argv) {
  herald::TuneAllocator();
  std::string config_path;
  bool check_only = false;
  std::string ready_file;
  std::string vapid_app;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (absl::StartsWith(arg, "--config=")) {
      config_path = arg.substr(strlen("--config="));
    } else if (arg == "--ready-file" && i + 1 < argc) {
      ready_file = argv[++i];
    } else if (arg == "--check-config") {
      check_only = true;
    } else if (arg == "--print-vapid-public-key" && i + 1 < argc) {
      vapid_app = argv[++i];
    } else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else {
      std::cerr << "herald-dispatcher: unknown argument '" << arg << "'\n" << kUsage;
      return 2;
    }
  }
  if (config_path.empty()) config_path = herald::DefaultConfigFile();

  if (!vapid_app.empty()) {
    // The key Web Push clients must subscribe with (applicationServerKey).
    absl::StatusOr<std::string> key =
        herald::providers::webpush::VapidPublicKeyForApp(config_path, vapid_app);
    if (!key.ok()) {
      std::cerr << "herald-dispatcher: " << key.status().message() << "\n";
      return 1;
    }
    std::cout << *key << "\n";
    return 0;
  }

  herald::PrepareProcess();

  absl::StatusOr<std::shared_ptr<const herald::Config>> config =
      herald::LoadConfigFile(config_path);
  if (!config.ok()) {
    std::cerr << "herald-dispatcher: bad config: " << config.status().message() << "\n";
    return 1;
  }
  herald::ApplyLogConfig(**config, kComponent);

  herald::http::HttpClientOptions http_options;
  http_options.threads = (*config)->dispatcher.http_threads;
  http_options.proxy = (*config)->proxy;
  if (!http_options.proxy.empty()) {
    HERALD_LOG(kInfo, kComponent, "provider traffic goes through the proxy ",
               herald::RedactProxy(http_options.proxy));
  }
  auto http = std::make_unique<herald::http::CurlHttpClient>(http_options);
  herald::providers::ProviderEnv env;
  env.http = http.get();
  env.proxy = http_options.proxy;
  std::vector<std::string> warnings = (*config)->warnings;
  absl::StatusOr<std::unique_ptr<herald::dispatcher::AppRegistry>> apps =
      herald::dispatcher::AppRegistry::Build(**config, env, &warnings);
  if (!apps.ok()) {
    std::cerr << "herald-dispatcher: bad config: " << apps.status().message() << "\n";
    return 1;
  }
  for (size_t i = (*config)->warnings.size(); i < warnings.size(); ++i) {
    HERALD_LOG(kWarning, kComponent, warnings[i]);  // the apps' own warnings
  }
  if (check_only) {
    std::cout << config_path << ": OK (" << (*apps)->apps().size() << " app(s))\n";
    return 0;
  }

  auto timers = std::make_unique<herald::TimerQueue>();
  auto pool = std::make_unique<herald::WorkPool>((*config)->dispatcher.worker_threads);
  std::shared_ptr<const herald::dispatcher::AppRegistry> registry(std::move(*apps));
  herald::dispatcher::RecentPushes recent(
      static_cast<size_t>((*config)->dispatcher.dedup_max_entries), (*config)->dispatcher.dedup_ttl);
  herald::dispatcher::FanOutEnv fan_out;
  fan_out.executor = pool.get();
  fan_out.timer = timers.get();
  fan_out.recent = &recent;
  fan_out.policy.deadline = (*config)->dispatcher.deadline;
  fan_out.policy.initial_backoff = (*config)->dispatcher.retry_initial_backoff;
  fan_out.policy.max_attempts = (*config)->dispatcher.max_attempts;
  const herald::dispatcher::RetryPolicy& policy = fan_out.policy;
  herald::dispatcher::DispatcherService service(registry, fan_out);

  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort((*config)->dispatcher.listen, grpc::InsecureServerCredentials(),
                           &bound_port);
  builder.RegisterService(&service);
  // One bridge multiplexes every in-flight notification on one HTTP/2
  // connection: do not cap the streams at a small default.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 100000);
  // Bridges ping their long-lived streams; a batch may be large.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.SetMaxReceiveMessageSize(-1);
  // A second dispatcher started on the same port must fail, not silently
  // take half of the traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || bound_port == 0) {
    std::cerr << "herald-dispatcher: cannot listen on " << (*config)->dispatcher.listen << "\n";
    return 1;
  }
  herald::MetricsHttpServer metrics;
  if (!(*config)->dispatcher.metrics_listen.empty()) {
    absl::Status started = metrics.Start((*config)->dispatcher.metrics_listen);
    if (!started.ok()) {
      std::cerr << "herald-dispatcher: dispatcher.metrics_listen: " << started.message() << "\n";
      return 1;
    }
    HERALD_LOG(kInfo, kComponent, "metrics on port ", metrics.port(), " (GET /metrics)");
  }
  herald::WriteReadyFile(ready_file, bound_port,
                         (*config)->dispatcher.metrics_listen.empty() ? 0 : metrics.port());
  HERALD_LOG(kInfo, kComponent, "listening on ", (*config)->dispatcher.listen, " (port ",
             bound_port, ") with ", registry->apps().size(), " app(s), ", pool->threads(),
             " worker thread(s)");
  registry.reset();  // the service holds it; a reload must be able to retire it

  // Registries replaced by reloads, kept until in-flight work lets go of them
  // so that they are destroyed here, on the main thread.
  std::vector<std::shared_ptr<const herald::dispatcher::AppRegistry>> retired;
  int sig;
  while ((sig = herald::WaitForStopSignal()) == SIGHUP) {
    retired.erase(std::remove_if(retired.begin(), retired.end(),
                                 [](const auto& r) { return r.use_count() == 1; }),
                  retired.end());
    // Reload the apps; the rest of the config needs a restart.
    absl::StatusOr<std::shared_ptr<const herald::Config>> fresh =
        herald::LoadConfigFile(config_path);
    std::vector<std::string> fresh_warnings;
    absl::StatusOr<std::unique_ptr<herald::dispatcher::AppRegistry>> fresh_apps =
        fresh.ok() ? herald::dispatcher::AppRegistry::Build(**fresh, env, &fresh_warnings)
                   : absl::StatusOr<std::unique_ptr<herald::dispatcher::AppRegistry>>(
                         fresh.status());
    if (!fresh_apps.ok()) {
      HERALD_LOG(kError, kComponent, "SIGHUP: config not reloaded, keeping the old one: ",
                 fresh_apps.status().message());
      continue;
    }
    for (const std::string& w : fresh_warnings) HERALD_LOG(kWarning, kComponent, w);
    retired.push_back(service.SetApps(
        std::shared_ptr<const herald::dispatcher::AppRegistry>(std::move(*fresh_apps))));
    HERALD_LOG(kInfo, kComponent, "SIGHUP: apps reloaded from ", config_path, " (",
               (*fresh)->apps.size(), " app(s); changes outside apps need a restart)");
  }
  HERALD_LOG(kInfo, kComponent, "signal ", sig, ": draining (up to ",
             absl::FormatDuration(policy.deadline), ")");
  // Streams stop taking notifications and end once those they took are done;
  // unary calls in flight finish within their deadline; then it stops.
  service.BeginDrain();
  server->Shutdown(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(absl::ToInt64Milliseconds(policy.deadline)));
  server.reset();
  // Destroy every registry here, on the main thread, once the last provider
  // callback has let go of it (an HTTP client cannot be destroyed on its
  // own loop thread).
  retired.push_back(service.SetApps(nullptr));
  absl::Time until = absl::Now() + absl::Seconds(5);
  auto busy = [&retired] {
    for (const auto& r : retired) {
      if (r != nullptr && r.use_count() > 1) return true;
    }
    return false;
  };
  while (busy() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(10));
  retired.clear();
  // Retry timers stop first (one firing now would send on a destroyed
  // client; later ones are dropped); the pool runs what is left of the
  // pushes it was given; the HTTP client fails what is still out; only then
  // may the timers' object go, since those last answers may still ask it for
  // a retry.
  timers->Stop();
  pool.reset();
  http.reset();
  timers.reset();
  HERALD_LOG(kInfo, kComponent, "stopped");
  return 0;
}
