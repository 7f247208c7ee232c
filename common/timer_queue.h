// Runs callbacks at given times on one background thread. Used for retry
// backoff: callbacks must be quick (they hand work to the HTTP client).
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
