// Remembers, for a while and in bounded memory, what became of each
// (event_id, app_id, pushkey) push, so that a homeserver retrying a
// notification (after a 502, a 504, a lost answer) does not push twice to
// the devices that already got it.
//
// Threads: Begin() and End() from any thread (the fan-out's caller, the
// pool, HTTP loop threads); the memory is split into shards, each behind
// its own lock.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace herald::dispatcher {

class RecentPushes {
 public:
  enum class State {
    kInFlight,   // a push for this key is under way right now
    kDelivered,  // pushed (or deliberately skipped)
    kRejected,   // the provider said the pushkey is dead
    kDropped,    // the provider refused this notification for good; pushkey fine
  };
  // The first 128 bits of SHA-256 of the three strings: the same in every
  // process (a shared memory's entries are named by it), a false match
  // (which would drop a push) astronomically unlikely, and an entry costs
  // tens of bytes however long the pushkey is.
  using Key = std::array<uint64_t, 2>;
  static Key MakeKey(const std::string& event_id, const std::string& app_id,
                     const std::string& pushkey);

  // `max_entries` bounds memory (about 90 bytes an entry, measured); `ttl` is how long
  // an outcome is remembered. max_entries == 0 disables it all.
  RecentPushes(size_t max_entries, absl::Duration ttl);

  // Claims `key` for a new push. Returns nullopt when the caller should push
  // (the key is now kInFlight), otherwise what is already known.
  std::optional<State> Begin(const Key& key, absl::Time now);
  // Records how the push claimed with Begin ended: kDelivered/kRejected/
  // kDropped are remembered; nullopt (failed, to be retried) forgets the key.
  void End(const Key& key, std::optional<State> final_state, absl::Time now);

  size_t size() const;

 private:
  struct Entry {
    State state;
    absl::Time expires;
  };
  struct Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<Key, Entry, absl::Hash<Key>> map ABSL_GUARDED_BY(mu);
    std::deque<Key> order ABSL_GUARDED_BY(mu);  // insertion order, for eviction
  };
  static constexpr int kShards = 16;
  Shard& ShardFor(const Key& key) { return shards_[key[0] % kShards]; }
  void EvictLocked(Shard& shard, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);

  const size_t max_per_shard_;
  const absl::Duration ttl_;
  std::array<Shard, kShards> shards_;
};

}  // namespace herald::dispatcher
