#include "common/timer_queue.h"

namespace herald {

TimerQueue::TimerQueue() : thread_([this] { Loop(); }) {}

TimerQueue::~TimerQueue() { Stop(); }

void TimerQueue::Stop() {
  std::multimap<absl::Time, std::function<void()>> dropped;  // destroyed unlocked
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    dropped.swap(due_);
  }
  if (thread_.joinable()) thread_.join();
}

void TimerQueue::RunAt(absl::Time when, std::function<void()> fn) {
  absl::MutexLock lock(&mu_);
  if (!stopping_) due_.emplace(when, std::move(fn));
  // else dropped: `fn` is destroyed on return, after the lock is released
}

void TimerQueue::Loop() {
  while (true) {
    std::function<void()> fn;
    {
      absl::MutexLock lock(&mu_);
      while (true) {
        if (stopping_) return;
        absl::Time next = due_.empty() ? absl::InfiniteFuture() : due_.begin()->first;
        const absl::Time now = MonotonicNow();
        if (next <= now) break;
        // Wakes when a new (maybe earlier) timer is added, or when `next` is due.
        auto changed = [this, next]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
          return stopping_ || (!due_.empty() && due_.begin()->first < next);
        };
        AwaitMonotonic(&mu_, absl::Condition(&changed), next - now);
      }
      fn = std::move(due_.begin()->second);
      due_.erase(due_.begin());
    }
    fn();
  }
}

}  // namespace herald
