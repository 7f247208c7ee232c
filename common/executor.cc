#include "common/executor.h"

#include <algorithm>
#include <chrono>

#include "absl/time/clock.h"

namespace herald {
namespace {

class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  absl::Time Monotonic() const override { return MonotonicNow(); }
};

}  // namespace

bool AwaitMonotonic(absl::Mutex* mu, const absl::Condition& condition, absl::Duration limit) {
  const absl::Time end = MonotonicNow() + limit;
  while (true) {
    const absl::Duration left = end - MonotonicNow();
    if (left <= absl::ZeroDuration()) return condition.Eval();
    if (mu->AwaitWithTimeout(condition, std::min(left, absl::Seconds(1)))) return true;
  }
}

absl::Time MonotonicNow() {
  return absl::UnixEpoch() + absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
}

const Clock& Clock::Real() {
  static const RealClock clock;
  return clock;
}

}  // namespace herald
