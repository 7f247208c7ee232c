// What code that runs work later depends on: a clock, somewhere to run work
// now, and a timer to run it later. Production uses Clock::Real(), WorkPool
// and TimerQueue; tests use manual ones that make time pass when they say so.
#pragma once

#include <functional>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace herald {

// Two readings. Deadlines, backoff, timers and ages are measured on
// Monotonic(), which a step of the system clock does not move. Now(), the
// time of day, is only for what is written for others: token issue and expiry
// times, HTTP dates.
class Clock {
 public:
  virtual ~Clock() = default;
  // The time of day.
  virtual absl::Time Now() const = 0;
  // A monotonic time written as an absl::Time on an arbitrary epoch: compare
  // it only with other Monotonic() readings.
  virtual absl::Time Monotonic() const = 0;
  // absl::Now() and the system's steady clock.
  static const Clock& Real();
};

// Clock::Real().Monotonic().
absl::Time MonotonicNow();

// mu->AwaitWithTimeout(condition, limit), with `limit` measured on the
// monotonic clock: Debian's Abseil (20220623) turns a timeout into a wall-clock
// deadline, so the wait is taken in slices of at most a second and a step of
// the system clock moves its end by no more than that. `mu` must be held.
bool AwaitMonotonic(absl::Mutex* mu, const absl::Condition& condition, absl::Duration limit);

class Executor {
 public:
  virtual ~Executor() = default;
  // Runs `fn` soon, on a thread of the executor's; never inline.
  virtual void Post(std::function<void()> fn) = 0;
};

class Timer {
 public:
  virtual ~Timer() = default;
  // Runs `fn` at `when`, a Clock::Monotonic() reading (or soon after). It
  // must be quick: hand work on.
  virtual void RunAt(absl::Time when, std::function<void()> fn) = 0;
};

}  // namespace herald
