#include "common/executor.h"

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

absl::Time MonotonicNow() {
  return absl::UnixEpoch() + absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
}

const Clock& Clock::Real() {
  static const RealClock clock;
  return clock;
}

}  // namespace herald
