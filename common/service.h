// Start-up and shutdown steps both services share.
#pragma once

#include <signal.h>

#include "common/config.h"

namespace herald {

// Blocks SIGTERM and SIGINT in every thread (they are taken with
// WaitForStopSignal), ignores SIGPIPE, and turns off Abseil's debug deadlock
// detector: it walks a lock graph on every Mutex acquisition, and the locks
// here are leaf locks, so it would only cost time. Call first in main().
void PrepareProcess();

// Applies log.level and logs the config's warnings.
void ApplyLogConfig(const Config& config, const char* component);

// Writes {"port": N} to `path` (atomically: a temporary file, then rename)
// once a service listens; for supervisors and tests that start it on port 0.
// Does nothing when `path` is empty.
// With `metrics_port` > 0 the file also holds "metrics_port".
void WriteReadyFile(const std::string& path, int port, int metrics_port = 0);

// Tells systemd (Type=notify, $NOTIFY_SOCKET) the service's state:
// "READY=1" once it serves, "STOPPING=1" when a drain begins,
// "RELOADING=1" ... "READY=1" around a reload. Nothing without a supervisor
// socket.
void NotifySupervisor(const char* state);

// Waits for SIGTERM, SIGINT or SIGHUP (all blocked by PrepareProcess, so a
// stray SIGHUP never kills a service); returns the signal.
int WaitForStopSignal();

}  // namespace herald
