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

// Waits for SIGTERM or SIGINT; returns the signal.
int WaitForStopSignal();

}  // namespace herald
