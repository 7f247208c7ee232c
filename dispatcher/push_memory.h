// The push memory as the fan-out sees it: claims for the pushes of one
// notification, asked together, and their outcomes. Two kinds: this
// process's own (LocalPushMemory, RecentPushes behind it) and one shared by
// every dispatcher through Redis (RedisPushMemory), so that a homeserver's
// retry that lands on another dispatcher pushes nothing twice either.
//
// Threads: Claim() and End() from any thread; `done` runs once, on the
// caller's thread before Claim returns (local) or on the memory's own
// thread (Redis).
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "common/executor.h"
#include "dispatcher/recent_pushes.h"

namespace herald::dispatcher {

class PushMemory {
 public:
  using Key = RecentPushes::Key;
  using State = RecentPushes::State;
  // Per key, in order: nullopt when the caller should push (the key is now
  // claimed for it), else what is already known.
  using Claimed = std::function<void(std::vector<std::optional<State>>)>;

  virtual ~PushMemory() = default;
  // Claims `keys` for pushes that end by `deadline` (monotonic): a claim
  // left by a caller that died lapses soon after it.
  virtual void Claim(std::vector<Key> keys, absl::Time deadline, Claimed done) = 0;
  // How a claimed push ended: kDelivered/kRejected/kDropped are remembered
  // for the TTL; nullopt (failed, to be retried) forgets the key.
  virtual void End(const Key& key, std::optional<State> final_state) = 0;
};

// This process's memory: RecentPushes on `clock`'s monotonic time.
class LocalPushMemory final : public PushMemory {
 public:
  LocalPushMemory(RecentPushes* recent, const Clock* clock) : recent_(recent), clock_(clock) {}
  void Claim(std::vector<Key> keys, absl::Time deadline, Claimed done) override;
  void End(const Key& key, std::optional<State> final_state) override;

 private:
  RecentPushes* recent_;
  const Clock* clock_;
};

}  // namespace herald::dispatcher
