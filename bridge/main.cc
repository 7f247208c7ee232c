// herald-bridge: the Matrix Push Gateway HTTP front door.
//   herald-bridge --config FILE
#include <signal.h>

#include <cstdlib>

#include <iostream>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bridge/dispatch_client.h"
#include "bridge/dispatcher_target.h"
#include "bridge/http_server.h"
#include "common/allocator.h"
#include "common/config.h"
#include "common/flags.h"
#include "common/internal_tls.h"
#include "common/log.h"
#include "common/metrics_http.h"
#include "common/service.h"
#include "common/version.h"
#include "grpcpp/grpcpp.h"

namespace {

constexpr char kComponent[] = "bridge";
constexpr char kUsage[] =
    "The Matrix Push Gateway's HTTP front door.\n"
    "usage: herald-bridge [--config FILE] [--ready-file FILE]";

// Streams to every dispatcher `dispatcher.target` resolves to, each address
// on a channel of its own (see DispatchClient).
absl::StatusOr<std::unique_ptr<herald::bridge::DispatchClient>> NewDispatchClient(
    const herald::DispatcherConfig& config) {
  absl::StatusOr<herald::bridge::DispatcherTarget> target =
      herald::bridge::ParseDispatcherTarget(config.target);
  if (!target.ok()) return target.status();
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds =
      herald::InternalChannelCredentials(config.tls);
  if (!creds.ok()) return creds.status();

  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // The streams live long: notice a dead dispatcher connection by pings.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // A message may carry many answers at once.
  args.SetMaxReceiveMessageSize(-1);
  // The internal hop never goes through the providers' proxy: gRPC would
  // otherwise take https_proxy from the environment and every notify would
  // fail behind a real proxy.
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  // Each address has a channel of its own; a name's channels still present
  // it (the :authority, and the name the dispatcher's certificate must
  // carry).
  if (target->kind == herald::bridge::DispatcherTarget::Kind::kDns) {
    const bool v6 = absl::StrContains(target->host, ':');
    args.SetString(GRPC_ARG_DEFAULT_AUTHORITY,
                   absl::StrCat(v6 ? "[" : "", target->host, v6 ? "]" : "", ":", target->port));
    if (config.tls.enabled()) args.SetSslTargetNameOverride(target->host);
  }
  herald::bridge::DispatchClient::Options options;
  options.target = *std::move(target);
  options.streams_per_dispatcher = config.streams;
  options.resolve_interval = config.resolve_interval;
  return std::make_unique<herald::bridge::DispatchClient>(
      std::move(options), [creds = *std::move(creds), args](const std::string& address) {
        return grpc::CreateCustomChannel(address, creds, args);
      });
}

}  // namespace

int main(int argc, char** argv) {
  herald::TuneAllocator();
  herald::ParseCommandLine(argc, argv, kUsage);
  const std::string config_path = herald::ConfigFileFlag();
  const std::string ready_file = absl::GetFlag(FLAGS_ready_file);
  herald::PrepareProcess();
  // A channel with no call on it makes progress connecting only when gRPC's
  // backup poller runs (every 5 s by default): a dispatcher that starts, or
  // restarts, would stay unconnected (and /ready 503) for 5 s, 15 s over
  // TLS. Poll every 100 ms (read at gRPC's start; the environment wins).
  setenv("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "100", /*overwrite=*/0);
  auto config = herald::LoadConfigFile(config_path);
  if (!config.ok()) {
    std::cerr << "herald-bridge: bad config: " << config.status().message() << "\n";
    return 1;
  }
  herald::ApplyLogConfig(**config, kComponent);
  herald::ExportBuildInfo();

  absl::StatusOr<std::unique_ptr<herald::bridge::DispatchClient>> client =
      NewDispatchClient((*config)->dispatcher);
  if (!client.ok()) {
    std::cerr << "herald-bridge: " << client.status().message() << "\n";
    return 1;
  }
  herald::bridge::HttpServer server(**config, *std::move(client));
  absl::Status started = server.Start();
  if (!started.ok()) {
    std::cerr << "herald-bridge: " << started.message() << "\n";
    return 1;
  }
  // metrics.prometheus: a listener of its own, unless it names the notify
  // port (then the server above serves /metrics).
  herald::MetricsHttpServer metrics;
  const herald::PrometheusConfig& prometheus = (*config)->prometheus;
  const bool own_listener = prometheus.enabled && !herald::MetricsOnNotifyPort(**config);
  if (own_listener) {
    const std::string address = absl::StrContains(prometheus.address, ':')
                                    ? absl::StrCat("[", prometheus.address, "]:", prometheus.port)
                                    : absl::StrCat(prometheus.address, ":", prometheus.port);
    absl::Status listening = metrics.Start(address);
    if (!listening.ok()) {
      std::cerr << "herald-bridge: metrics.prometheus: " << listening.message() << "\n";
      return 1;
    }
    HERALD_LOG(kInfo, kComponent, "metrics on ", address, " (GET /metrics)");
  }
  herald::WriteReadyFile(ready_file, server.port(), own_listener ? metrics.port() : 0);
  HERALD_LOG(kInfo, kComponent, "listening on port ", server.port(), ", dispatcher at ",
             (*config)->dispatcher.target);
  herald::NotifySupervisor("READY=1");
  int sig;
  while ((sig = herald::WaitForStopSignal()) == SIGHUP) {
    HERALD_LOG(kInfo, kComponent,
               "SIGHUP: the bridge has nothing to reload (restart it to "
               "change http.* or dispatcher.target)");
  }
  HERALD_LOG(kInfo, kComponent, "signal ", sig, ": draining (up to ",
             absl::FormatDuration((*config)->http.drain_timeout), ")");
  herald::NotifySupervisor("STOPPING=1");
  server.Stop((*config)->http.drain_timeout);
  HERALD_LOG(kInfo, kComponent, "stopped");
  return 0;
}
