// Runs callbacks at given times on one background thread. Used for retry
// backoff: callbacks must be quick (they hand work to the HTTP client).
#pragma once

#include <functional>
#include <map>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace herald {

class TimerQueue {
 public:
  TimerQueue();
  // Drops callbacks not yet due (runs none of them) and joins the thread.
  ~TimerQueue();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  void RunAt(absl::Time when, std::function<void()> fn);
  void RunAfter(absl::Duration delay, std::function<void()> fn) {
    RunAt(absl::Now() + delay, std::move(fn));
  }

 private:
  void Loop();

  absl::Mutex mu_;
  std::multimap<absl::Time, std::function<void()>> due_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace herald
