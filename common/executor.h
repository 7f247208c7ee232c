// What code that runs work later depends on: a clock, somewhere to run work
// now, and a timer to run it later. Production uses absl::Now(), WorkPool and
// TimerQueue; tests use manual ones that make time pass when they say so.
#pragma once

#include <functional>

#include "absl/time/time.h"

namespace herald {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // absl::Now().
  static const Clock& Real();
};

class Executor {
 public:
  virtual ~Executor() = default;
  // Runs `fn` soon, on a thread of the executor's; never inline.
  virtual void Post(std::function<void()> fn) = 0;
};

class Timer {
 public:
  virtual ~Timer() = default;
  // Runs `fn` at `when` (or soon after). It must be quick: hand work on.
  virtual void RunAt(absl::Time when, std::function<void()> fn) = 0;
};

}  // namespace herald
