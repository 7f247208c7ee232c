// herald-bridge: the Matrix Push Gateway HTTP front door.
//   herald-bridge --config FILE
#include <signal.h>

#include <iostream>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bridge/http_server.h"
#include "common/allocator.h"
#include "common/config.h"
#include "common/flags.h"
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

}  // namespace

int main(int argc, char** argv) {
  herald::TuneAllocator();
  herald::ParseCommandLine(argc, argv, kUsage);
  const std::string config_path = herald::ConfigFileFlag();
  const std::string ready_file = absl::GetFlag(FLAGS_ready_file);
  herald::PrepareProcess();
  auto config = herald::LoadConfigFile(config_path);
  if (!config.ok()) {
    std::cerr << "herald-bridge: bad config: " << config.status().message() << "\n";
    return 1;
  }
  herald::ApplyLogConfig(**config, kComponent);
  herald::ExportBuildInfo();

  grpc::ChannelArguments args;
  // Several dispatchers behind one DNS name: spread calls, skip dead ones.
  args.SetLoadBalancingPolicyName("round_robin");
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
  auto channel = grpc::CreateCustomChannel((*config)->dispatcher.target,
                                           grpc::InsecureChannelCredentials(), args);
  auto stub =
      std::shared_ptr<herald::v1::Dispatcher::Stub>(herald::v1::Dispatcher::NewStub(channel));

  // Ready while a connection to a dispatcher is up (asking also starts one
  // when the channel is idle).
  herald::bridge::HttpServer server(**config, stub, [channel] {
    return channel->GetState(/*try_to_connect=*/true) == GRPC_CHANNEL_READY;
  });
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
  int sig;
  while ((sig = herald::WaitForStopSignal()) == SIGHUP) {
    HERALD_LOG(kInfo, kComponent,
               "SIGHUP: the bridge has nothing to reload (restart it to "
               "change http.* or dispatcher.target)");
  }
  HERALD_LOG(kInfo, kComponent, "signal ", sig, ": draining (up to ",
             absl::FormatDuration((*config)->http.drain_timeout), ")");
  server.Stop((*config)->http.drain_timeout);
  HERALD_LOG(kInfo, kComponent, "stopped");
  return 0;
}
