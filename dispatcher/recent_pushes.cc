#include "dispatcher/recent_pushes.h"

#include <openssl/sha.h>

#include <functional>

namespace herald::dispatcher {
namespace {

// A push stays "in flight" at most this long, even if End never comes.
constexpr absl::Duration kInFlightLimit = absl::Minutes(2);

}  // namespace

RecentPushes::Key RecentPushes::MakeKey(const std::string& event_id, const std::string& app_id,
                                        const std::string& pushkey) {
  std::string joined;
  joined.reserve(event_id.size() + app_id.size() + pushkey.size() + 2);
  joined.append(event_id).push_back('\0');
  joined.append(app_id).push_back('\0');
  joined.append(pushkey);
  // SHA-256, not a per-process seeded hash: the key is the same in every
  // dispatcher (it names the entry in a shared Redis), and nobody can make
  // another device's key collide with theirs.
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(joined.data()), joined.size(), digest);
  Key key{};
  for (int i = 0; i < 8; ++i) {
    key[0] = (key[0] << 8) | digest[i];
    key[1] = (key[1] << 8) | digest[8 + i];
  }
  return key;
}

RecentPushes::RecentPushes(size_t max_entries, absl::Duration ttl)
    : max_per_shard_(max_entries == 0 ? 0 : std::max<size_t>(1, max_entries / kShards)),
      ttl_(ttl) {}

void RecentPushes::EvictLocked(Shard& shard, absl::Time now) {
  // Oldest first: drop what expired or was forgotten, and whatever exceeds
  // the bound (on the map, and on the order list, which can hold keys of
  // forgotten entries).
  while (!shard.order.empty()) {
    auto it = shard.map.find(shard.order.front());
    const bool missing = it == shard.map.end();
    const bool stale = !missing && it->second.expires <= now;
    const bool full = shard.map.size() >= max_per_shard_ || shard.order.size() > 2 * max_per_shard_;
    if (!missing && !stale && !full) break;
    if (!missing) shard.map.erase(it);
    shard.order.pop_front();
  }
}

std::optional<RecentPushes::State> RecentPushes::Begin(const Key& key, absl::Time now) {
  if (max_per_shard_ == 0) return std::nullopt;
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.map.find(key);
  if (it != shard.map.end() && it->second.expires > now) return it->second.state;
  EvictLocked(shard, now);
  shard.map[key] = Entry{State::kInFlight, now + kInFlightLimit};
  shard.order.push_back(key);
  return std::nullopt;
}

void RecentPushes::End(const Key& key, std::optional<State> final_state, absl::Time now) {
  if (max_per_shard_ == 0) return;
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.map.find(key);
  if (it == shard.map.end()) return;  // evicted meanwhile
  if (!final_state) {
    shard.map.erase(it);  // its place in `order` is skipped when reached
    return;
  }
  it->second = Entry{*final_state, now + ttl_};
}

size_t RecentPushes::size() const {
  size_t n = 0;
  for (const Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    n += shard.map.size();
  }
  return n;
}

}  // namespace herald::dispatcher
