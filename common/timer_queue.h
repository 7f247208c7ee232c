// Runs callbacks at given times (Clock::Monotonic() readings) on one
// background thread. Used for retry backoff.
//
// Threads: RunAt() and Stop() from any thread; the callbacks on the queue's
// own thread, one at a time, so they must be quick (the fan-out's hand the
// retry to the work pool).
#pragma once

#include <functional>
#include <map>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/executor.h"

namespace herald {

class TimerQueue final : public Timer {
 public:
  TimerQueue();
  // Stop(), then gone.
  ~TimerQueue() override;
  // Drops the callbacks not yet due (runs none of them), joins the thread;
  // from then on RunAt() drops what it is given. Idempotent.
  void Stop();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  void RunAt(absl::Time when, std::function<void()> fn) override;

 private:
  void Loop();

  absl::Mutex mu_;
  std::multimap<absl::Time, std::function<void()>> due_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // joined by Stop()
};

}  // namespace herald
