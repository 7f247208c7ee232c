// The push memory shared by every dispatcher, in Redis
// (dispatcher.dedup.backend: redis). Each (event_id, app_id, pushkey) is one
// key, named by its 128-bit hash (never the pushkey): "herald:push:<hex>",
// holding "i" while a push is in flight (PX: the request's deadline plus a
// little, so a dispatcher that dies mid-push holds the retries back no
// longer), then "d", "r" or "x" (delivered, rejected, dropped) for
// dispatcher.dedup_ttl; a failed push deletes its key.
//
// One round trip per notification: a claim is SET key i NX PX for every
// device plus a GET of each, pipelined, on a thread of the memory's own that
// sends whatever is waiting together. Works with Redis 2.6.12 and later.
//
// Fails open: when Redis does not answer within `timeout` (or is down, or
// refuses), the claims are answered "push" (a duplicate is better than a
// lost push), herald_dedup_errors_total counts the notifications, a warning
// is logged at most every 10 s, and a new connection is tried at most every
// second, so that dedup resumes by itself when Redis is back. A claim that
// waited `timeout` for the thread (behind a slow round trip or a
// reconnection) is answered "push" without being sent. Devices whose claim
// Redis confirmed before a failure keep it (their outcome is recorded).
//
// Threads: Claim() and End() from any thread; `done` runs on `executor`
// (the memory's own thread stays on Redis); the destructor answers what is
// still waiting, sends the outcomes still queued once, and joins.
#pragma once

#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "dispatcher/push_memory.h"

struct redisContext;

namespace herald::dispatcher {

struct RedisAddress {
  std::string host;
  int port = 6379;
  std::string user;      // Redis 6 ACL user; empty: AUTH with the password only
  std::string password;  // empty: no AUTH
  int db = 0;
};

// redis://[[user]:password@]host[:port][/db]; host may be [v6]. rediss://
// is refused: Debian 12's hiredis (0.14) has no TLS.
absl::StatusOr<RedisAddress> ParseRedisUrl(absl::string_view url);

class RedisPushMemory final : public PushMemory {
 public:
  struct Options {
    RedisAddress address;
    absl::Duration timeout = absl::Milliseconds(50);  // per round trip, and to connect
    absl::Duration ttl = absl::Minutes(10);           // outcomes
  };

  // `executor` runs the answers (null: on the memory's thread); it must
  // outlive the memory.
  RedisPushMemory(Options options, Executor* executor, const Clock* clock = &Clock::Real());
  ~RedisPushMemory() override;

  void Claim(std::vector<Key> keys, absl::Time deadline, Claimed done) override;
  void End(const Key& key, std::optional<State> final_state) override;

 private:
  struct ClaimJob {
    std::vector<Key> keys;
    int64_t in_flight_ms;
    absl::Time queued;  // monotonic
    Claimed done;
  };
  struct EndJob {
    Key key;
    std::optional<State> state;
    int64_t px_ms = 0;  // 0: dedup_ttl
  };

  void Run();
  void Send(std::vector<ClaimJob>* claims, std::vector<EndJob>* ends);
  bool Connected();
  void Failed(const std::string& why, size_t notifications);
  void Disconnect();
  void Answer(ClaimJob* job, std::vector<std::optional<State>> known);
  // Answers `jobs` "push" and counts them.
  void FailOpen(std::vector<ClaimJob>* jobs);

  const Options options_;
  Executor* const executor_;
  const Clock* clock_;
  absl::Mutex mu_;
  std::vector<ClaimJob> claims_ ABSL_GUARDED_BY(mu_);
  std::vector<EndJob> ends_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The thread's own.
  redisContext* redis_ = nullptr;
  absl::Time next_connect_ = absl::InfinitePast();
  absl::Time next_warning_ = absl::InfinitePast();
  std::thread thread_;
};

}  // namespace herald::dispatcher
