// herald-dispatcher: the gRPC service that delivers notifications.
//   herald-dispatcher --config FILE
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/allocator.h"
#include "common/config.h"
#include "common/flags.h"
#include "common/internal_tls.h"
#include "common/log.h"
#include "common/metrics_http.h"
#include "common/service.h"
#include "common/timer_queue.h"
#include "common/version.h"
#include "common/work_pool.h"
#include "dispatcher/app_registry.h"
#include "dispatcher/dispatcher_service.h"
#include "dispatcher/push_memory.h"
#include "dispatcher/redis_push_memory.h"
#include "dispatcher/registry_reaper.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "http/curl_http_client.h"
#include "providers/api/provider.h"

ABSL_FLAG(bool, check_config, false, "check the config file (and the apps' keys) and exit");

namespace {

constexpr char kComponent[] = "dispatcher";

using herald::dispatcher::AppRegistry;
using herald::dispatcher::DispatcherService;
using herald::dispatcher::RegistryReaper;
using Registry = std::shared_ptr<const AppRegistry>;

constexpr char kUsage[] =
    "The gRPC service that delivers notifications.\n"
    "usage: herald-dispatcher [--config FILE] [--ready-file FILE] [--check-config]\n"
    "       herald-dispatcher [--config FILE] --PROVIDER-COMMAND APP_ID (a provider's flag,\n"
    "       listed below)";

// A provider's command (--print-vapid-public-key APP_ID): runs instead of
// the service.
int RunProviderCommand(const herald::providers::ProviderRegistry::CommandCall& call,
                       const std::string& config_path) {
  absl::StatusOr<std::string> out = call.command(config_path, call.app_id);
  if (!out.ok()) {
    std::cerr << "herald-dispatcher: --" << call.name << ": " << out.status().message() << "\n";
    return 1;
  }
  std::cout << *out << "\n";
  return 0;
}

// The HTTP client the apps share, named in `env`.
std::unique_ptr<herald::http::CurlHttpClient> SharedHttpClient(
    const herald::Config& config, herald::providers::ProviderEnv* env) {
  herald::http::HttpClientOptions options;
  options.threads = config.dispatcher.http_threads;
  options.proxy = config.proxy;
  if (!options.proxy.empty()) {
    HERALD_LOG(kInfo, kComponent, "provider traffic goes through the proxy ",
               herald::RedactProxy(options.proxy));
  }
  auto http = std::make_unique<herald::http::CurlHttpClient>(options);
  env->http = http.get();
  env->proxy = options.proxy;
  return http;
}

// An HTTP client of an app's own (apps.*.max_connections).
std::unique_ptr<herald::http::HttpClient> NewAppHttpClient(
    const herald::http::HttpClientOptions& options) {
  return std::make_unique<herald::http::CurlHttpClient>(options);
}

// The apps with their providers; the config's and the apps' warnings logged.
absl::StatusOr<std::unique_ptr<AppRegistry>> BuildApps(const herald::Config& config,
                                                       const herald::providers::ProviderEnv& env) {
  std::vector<std::string> warnings = config.warnings;
  absl::StatusOr<std::unique_ptr<AppRegistry>> apps =
      AppRegistry::Build(config, env, NewAppHttpClient, &warnings);
  if (apps.ok()) {
    for (size_t i = config.warnings.size(); i < warnings.size(); ++i) {
      HERALD_LOG(kWarning, kComponent, warnings[i]);  // the apps' own warnings
    }
  }
  return apps;
}

herald::dispatcher::FanOutEnv FanOutFor(const herald::Config& config, herald::Executor* executor,
                                        herald::Timer* timer,
                                        herald::dispatcher::PushMemory* memory) {
  herald::dispatcher::FanOutEnv env;
  env.executor = executor;
  env.timer = timer;
  env.memory = memory;
  env.policy.deadline = config.dispatcher.deadline;
  env.policy.initial_backoff = config.dispatcher.retry_initial_backoff;
  env.policy.max_attempts = config.dispatcher.max_attempts;
  return env;
}

// dispatcher.dedup.backend: this process's memory, or Redis shared by every
// dispatcher (the URL was checked at start).
std::unique_ptr<herald::dispatcher::PushMemory> NewPushMemory(
    const herald::Config& config, herald::dispatcher::RecentPushes* recent,
    herald::Executor* executor) {
  const herald::DispatcherConfig::Dedup& dedup = config.dispatcher.dedup;
  if (dedup.backend != "redis") {
    return std::make_unique<herald::dispatcher::LocalPushMemory>(recent, &herald::Clock::Real());
  }
  herald::dispatcher::RedisPushMemory::Options options;
  options.address = *herald::dispatcher::ParseRedisUrl(dedup.redis_url);
  options.timeout = dedup.redis_timeout;
  options.ttl = config.dispatcher.dedup_ttl;
  HERALD_LOG(kInfo, kComponent, "push memory in Redis at ", options.address.host, ":",
             options.address.port, " (db ", options.address.db, ")");
  return std::make_unique<herald::dispatcher::RedisPushMemory>(std::move(options), executor);
}

std::unique_ptr<grpc::Server> StartGrpc(const herald::Config& config,
                                        std::shared_ptr<grpc::ServerCredentials> creds,
                                        DispatcherService* service, int* bound_port) {
  // grpc.health.v1.Health (what Kubernetes' gRPC probes ask) and server
  // reflection (grpcurl, grpc_cli), both from gRPC itself.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.dispatcher.listen, std::move(creds), bound_port);
  builder.RegisterService(service);
  // One bridge multiplexes every in-flight notification on one HTTP/2
  // connection: do not cap the streams at a small default.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 100000);
  // Bridges ping their long-lived streams; a batch may be large.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.SetMaxReceiveMessageSize(-1);
  // Callers' connections move now and then (GOAWAY), so that they spread
  // over dispatchers added since. Herald's bridge replaces its streams every
  // minute anyway; the grace lets another caller's long stream end on its
  // own (a stream cut at its end loses what it held).
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                             static_cast<int>(std::min<int64_t>(
                                 absl::ToInt64Milliseconds(config.dispatcher.max_connection_age),
                                 std::numeric_limits<int>::max())));
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
      static_cast<int>(std::min<int64_t>(
          absl::ToInt64Milliseconds(absl::Minutes(1) + 2 * config.dispatcher.deadline),
          std::numeric_limits<int>::max())));
  // A second dispatcher started on the same port must fail, not silently
  // take half of the traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server != nullptr) {
    // SERVING for the server as a whole ("") and for the service by name.
    server->GetHealthCheckService()->SetServingStatus("herald.v1.Dispatcher", true);
  }
  return server;
}

// dispatcher.metrics_listen, when set; false (said on stderr) when it
// cannot listen.
bool StartMetrics(const herald::Config& config, herald::MetricsHttpServer* metrics) {
  if (config.dispatcher.metrics_listen.empty()) return true;
  absl::Status started = metrics->Start(config.dispatcher.metrics_listen);
  if (!started.ok()) {
    std::cerr << "herald-dispatcher: dispatcher.metrics_listen: " << started.message() << "\n";
    return false;
  }
  HERALD_LOG(kInfo, kComponent, "metrics on port ", metrics->port(), " (GET /metrics)");
  return true;
}

// Streams stop taking notifications and end once those they took are done;
// unary calls in flight finish within `deadline`; then the server stops.
// (Logged once new notifications are refused.)
void Drain(DispatcherService* service, std::unique_ptr<grpc::Server> server,
           absl::Duration deadline, int signal) {
  // NOT_SERVING from the start of the drain (Watch streams hear it at once),
  // and no later change.
  server->GetHealthCheckService()->Shutdown();
  service->BeginDrain();
  HERALD_LOG(kInfo, kComponent, "signal ", signal, ": draining (up to ",
             absl::FormatDuration(deadline), ")");
  // The listener stays open while the streams end (2 s at most), so that a
  // stream a bridge opened just now is answered "not started" rather than
  // refused after its notifications were written.
  service->WaitForStreamsToEnd(absl::Seconds(2));
  server->Shutdown(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(absl::ToInt64Milliseconds(deadline)));
}

// SIGHUP: the apps are rebuilt from the file and replace the old ones for
// new notifications; the rest of the config needs a restart. The old
// registry is freed by `reaper` once the pushes using it are done.
void ReloadApps(const std::string& config_path, const herald::providers::ProviderEnv& env,
                DispatcherService* service, RegistryReaper* reaper) {
  absl::StatusOr<std::shared_ptr<const herald::Config>> fresh = herald::LoadConfigFile(config_path);
  std::vector<std::string> warnings;
  absl::StatusOr<std::unique_ptr<AppRegistry>> apps =
      fresh.ok() ? AppRegistry::Build(**fresh, env, NewAppHttpClient, &warnings)
                 : absl::StatusOr<std::unique_ptr<AppRegistry>>(fresh.status());
  if (!apps.ok()) {
    HERALD_LOG(kError, kComponent,
               "SIGHUP: config not reloaded, keeping the old one: ", apps.status().message());
    return;
  }
  for (const std::string& w : warnings) HERALD_LOG(kWarning, kComponent, w);
  service->SetApps(reaper->Share(*std::move(apps)));
  HERALD_LOG(kInfo, kComponent, "SIGHUP: apps reloaded from ", config_path, " (",
             (*fresh)->apps.size(), " app(s); changes outside apps need a restart)");
}

}  // namespace

int main(int argc, char** argv) {
  herald::TuneAllocator();
  herald::ParseCommandLine(argc, argv, kUsage);
  const std::string config_path = herald::ConfigFileFlag();
  if (auto command = herald::providers::ProviderRegistry::RequestedCommand()) {
    return RunProviderCommand(*command, config_path);
  }
  herald::PrepareProcess();

  absl::StatusOr<std::shared_ptr<const herald::Config>> config =
      herald::LoadConfigFile(config_path);
  if (!config.ok()) {
    std::cerr << "herald-dispatcher: bad config: " << config.status().message() << "\n";
    return 1;
  }
  herald::ApplyLogConfig(**config, kComponent);
  herald::ExportBuildInfo();

  herald::providers::ProviderEnv env;
  std::unique_ptr<herald::http::CurlHttpClient> http = SharedHttpClient(**config, &env);
  absl::StatusOr<std::unique_ptr<AppRegistry>> apps = BuildApps(**config, env);
  if (!apps.ok()) {
    std::cerr << "herald-dispatcher: bad config: " << apps.status().message() << "\n";
    return 1;
  }
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds =
      herald::InternalServerCredentials((*config)->dispatcher.tls);
  if (!creds.ok()) {
    std::cerr << "herald-dispatcher: bad config: " << creds.status().message() << "\n";
    return 1;
  }
  if ((*config)->dispatcher.dedup.backend == "redis") {
    absl::StatusOr<herald::dispatcher::RedisAddress> redis =
        herald::dispatcher::ParseRedisUrl((*config)->dispatcher.dedup.redis_url);
    if (!redis.ok()) {
      std::cerr << "herald-dispatcher: bad config: " << redis.status().message() << "\n";
      return 1;
    }
  }
  if (absl::GetFlag(FLAGS_check_config)) {
    std::cout << config_path << ": OK (" << (*apps)->apps().size() << " app(s))\n";
    return 0;
  }

  // Before the service and the workers: it outlives every registry.
  RegistryReaper reaper;
  auto timers = std::make_unique<herald::TimerQueue>();
  auto pool = std::make_unique<herald::WorkPool>((*config)->dispatcher.worker_threads);
  Registry registry = reaper.Share(*std::move(apps));
  herald::dispatcher::RecentPushes recent(
      static_cast<size_t>((*config)->dispatcher.dedup_max_entries),
      (*config)->dispatcher.dedup_ttl);
  // Before the service (whose fan-outs ask it); answers run on the pool, so
  // it is reset before the pool at the end.
  std::unique_ptr<herald::dispatcher::PushMemory> memory =
      NewPushMemory(**config, &recent, pool.get());
  const herald::dispatcher::FanOutEnv fan_out =
      FanOutFor(**config, pool.get(), timers.get(), memory.get());
  DispatcherService service(registry, fan_out);

  int bound_port = 0;
  std::unique_ptr<grpc::Server> server =
      StartGrpc(**config, *std::move(creds), &service, &bound_port);
  if (server == nullptr || bound_port == 0) {
    std::cerr << "herald-dispatcher: cannot listen on " << (*config)->dispatcher.listen << "\n";
    return 1;
  }
  herald::MetricsHttpServer metrics;
  if (!StartMetrics(**config, &metrics)) return 1;
  herald::WriteReadyFile(absl::GetFlag(FLAGS_ready_file), bound_port,
                         (*config)->dispatcher.metrics_listen.empty() ? 0 : metrics.port());
  HERALD_LOG(kInfo, kComponent, "listening on ", (*config)->dispatcher.listen, " (port ",
             bound_port, ") with ", registry->apps().size(), " app(s), ", pool->threads(),
             " worker thread(s)");
  registry.reset();  // the service holds it; a reload must be able to retire it

  herald::NotifySupervisor("READY=1");
  int sig;
  while ((sig = herald::WaitForStopSignal()) == SIGHUP) {
    herald::NotifySupervisor("RELOADING=1");
    ReloadApps(config_path, env, &service, &reaper);
    herald::NotifySupervisor("READY=1");
  }
  herald::NotifySupervisor("STOPPING=1");
  Drain(&service, std::move(server), fan_out.policy.deadline, sig);
  service.SetApps(nullptr);
  if (!reaper.WaitUntilAllFreed(absl::Seconds(5))) {
    // Pushes still out on an app's own HTTP client would answer into the
    // service, the pool and the timers being destroyed below: end here,
    // without destructors (every caller has had its answer or its drain).
    HERALD_LOG(kWarning, kComponent, reaper.live(),
               " app registry(ies) still held by pushes 5 s after the drain; exiting now");
    std::_Exit(0);
  }
  // Retry timers stop first (one firing now would send on a destroyed
  // client; later ones are dropped); the pool runs what is left of the
  // pushes it was given; the HTTP client fails what is still out; only then
  // may the timers' object go, since those last answers may still ask it for
  // a retry.
  memory.reset();  // its last answers go to the pool; its last outcomes to Redis
  timers->Stop();
  pool.reset();
  http.reset();
  timers.reset();
  HERALD_LOG(kInfo, kComponent, "stopped");
  return 0;
}
