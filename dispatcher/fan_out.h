// The fan-out of one notification: each device routed to its app, answered
// from the push memory when the homeserver repeats itself, pushed through the
// app's in-flight limit, retried with backoff and jitter inside the deadline,
// and its outcome written into the answer. No I/O of its own: the providers,
// the clock, the executor and the timer are given, so that it is tested
// in-process (fan_out_test.cc) with scripted providers and manual time.
#pragma once

#include <functional>
#include <memory>

#include "absl/time/time.h"
#include "common/executor.h"
#include "dispatcher/app_registry.h"
#include "dispatcher/push_memory.h"
#include "proto/herald/v1/herald.pb.h"

namespace herald::dispatcher {

// A factor in [0.5, 1.5), uniformly: ±50 % on each backoff.
double RandomJitter();

struct RetryPolicy {
  absl::Duration deadline = absl::Seconds(10);               // cap when the caller sets none
  absl::Duration initial_backoff = absl::Milliseconds(250);  // doubles per attempt
  int max_attempts = 4;
  double (*jitter)() = &RandomJitter;  // times each backoff
};

// What every fan-out runs on; outlives them all.
struct FanOutEnv {
  const Clock* clock = &Clock::Real();
  Executor* executor = nullptr;  // runs the pushes: first attempts and retries
  Timer* timer = nullptr;        // waits out the backoffs
  PushMemory* memory = nullptr;  // null: no push memory
  RetryPolicy policy;
};

// Pushes `request` to its devices with `apps` (held until the last device
// is done, across a reload); fills `response` and calls `on_done` once every
// device has an outcome, on whichever thread gave the last one. `request`
// and `response` must live until then. Routing runs on the calling thread,
// the push memory's claims for all devices at once (answered on the calling
// thread, or the memory's), the pushes on env.executor. Devices repeated in one
// request are pushed as asked.
void StartFanOut(std::shared_ptr<const AppRegistry> apps, const FanOutEnv& env,
                 const herald::v1::DispatchRequest* request, herald::v1::DispatchResponse* response,
                 absl::Time deadline, std::function<void()> on_done);

}  // namespace herald::dispatcher
