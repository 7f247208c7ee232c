#include "dispatcher/push_memory.h"

namespace herald::dispatcher {

void LocalPushMemory::Claim(std::vector<Key> keys, absl::Time /*deadline*/, Claimed done) {
  std::vector<std::optional<State>> known;
  known.reserve(keys.size());
  const absl::Time now = clock_->Monotonic();
  for (const Key& key : keys) known.push_back(recent_->Begin(key, now));
  done(std::move(known));
}

void LocalPushMemory::End(const Key& key, std::optional<State> final_state) {
  recent_->End(key, final_state, clock_->Monotonic());
}

}  // namespace herald::dispatcher
