#include "common/service.h"

#include <systemd/sd-daemon.h>

#include <grpc/support/log.h>

#include <pthread.h>

#include <cstdio>
#include <fstream>

#include "absl/synchronization/mutex.h"
#include "common/log.h"

namespace herald {
namespace {

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

void NotifySupervisor(const char* state) {
  // The socket stays in the environment for the rest of the process (0):
  // each state is told in turn.
  if (sd_notify(0, state) < 0) {
    HERALD_LOG(kWarning, "service", "cannot tell systemd ", state, " over $NOTIFY_SOCKET");
  }
}

void PrepareProcess() {
  sigset_t set = StopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

namespace {

void GrpcLogLine(gpr_log_func_args* args) {
  const LogLevel level = args->severity == GPR_LOG_SEVERITY_ERROR  ? LogLevel::kError
                         : args->severity == GPR_LOG_SEVERITY_INFO ? LogLevel::kInfo
                                                                   : LogLevel::kDebug;
  if (!LogEnabled(level)) return;
  LogLine(level, "grpc", absl::StrCat(args->message, " (", args->file, ":", args->line, ")"));
}

}  // namespace

void ApplyLogConfig(const Config& config, const char* component) {
  LogLevel level = LogLevel::kInfo;
  ParseLogLevel(config.log_level, &level);
  SetLogLevel(level);
  SetLogFormat(config.log_format == "json" ? LogFormat::kJson : LogFormat::kText);
  // gRPC's own messages become lines of ours (so log.format covers them).
  gpr_set_log_function(GrpcLogLine);
  for (const std::string& w : config.warnings) HERALD_LOG(kWarning, component, w);
}

void WriteReadyFile(const std::string& path, int port, int metrics_port) {
  if (path.empty()) return;
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "{\"port\": " << port;
    if (metrics_port > 0) out << ", \"metrics_port\": " << metrics_port;
    out << "}\n";
  }
  std::rename(tmp.c_str(), path.c_str());
}

int WaitForStopSignal() {
  sigset_t set = StopSignals();
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace herald
