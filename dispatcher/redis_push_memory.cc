#include "dispatcher/redis_push_memory.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "common/metrics.h"

namespace herald::dispatcher {
namespace {

constexpr char kComponent[] = "dispatcher";
// A claim outlives its request's deadline by this much at most.
constexpr absl::Duration kInFlightSlack = absl::Seconds(5);

Counter* DedupErrors() {
  static Counter* c = Metrics::Global().GetCounter(
      "herald_dedup_errors_total",
      "Notifications pushed without the shared push memory (Redis slow, down or refusing).");
  return c;
}

std::string KeyName(const PushMemory::Key& key) {
  return absl::StrFormat("herald:push:%016x%016x", key[0], key[1]);
}

const char* Value(PushMemory::State state) {
  switch (state) {
    case PushMemory::State::kInFlight:
      return "i";
    case PushMemory::State::kDelivered:
      return "d";
    case PushMemory::State::kRejected:
      return "r";
    case PushMemory::State::kDropped:
      return "x";
  }
  return "i";
}

// A value a dispatcher left; nullopt for one Herald never writes (another
// program's, or a later version's): not trusted, see Send.
std::optional<PushMemory::State> FromValue(absl::string_view v) {
  if (v == "i") return PushMemory::State::kInFlight;
  if (v == "d") return PushMemory::State::kDelivered;
  if (v == "r") return PushMemory::State::kRejected;
  if (v == "x") return PushMemory::State::kDropped;
  return std::nullopt;
}

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

}  // namespace

absl::StatusOr<RedisAddress> ParseRedisUrl(absl::string_view url) {
  auto bad = [&](absl::string_view why) {
    // The URL may hold a password: never quote it.
    return absl::InvalidArgumentError(absl::StrCat("dispatcher.dedup.redis.url: ", why));
  };
  if (absl::StartsWith(url, "rediss://")) {
    return bad("rediss:// (TLS) is not supported: Debian 12's hiredis 0.14 has no TLS");
  }
  if (!absl::ConsumePrefix(&url, "redis://")) return bad("must start with redis://");
  RedisAddress a;
  if (size_t at = url.rfind('@'); at != absl::string_view::npos) {
    absl::string_view auth = url.substr(0, at);
    url.remove_prefix(at + 1);
    size_t colon = auth.find(':');
    if (colon == absl::string_view::npos) return bad("credentials must be [user]:password@");
    a.user = std::string(auth.substr(0, colon));
    a.password = std::string(auth.substr(colon + 1));
  }
  absl::string_view hostport = url.substr(0, url.find('/'));
  if (size_t slash = url.find('/'); slash != absl::string_view::npos) {
    absl::string_view db = url.substr(slash + 1);
    if (!db.empty() && (!absl::SimpleAtoi(db, &a.db) || a.db < 0)) {
      return bad("the database after / must be a number");
    }
  }
  absl::string_view port;
  if (absl::StartsWith(hostport, "[")) {
    size_t close = hostport.find(']');
    if (close == absl::string_view::npos) return bad("unclosed [ in the host");
    a.host = std::string(hostport.substr(1, close - 1));
    absl::string_view rest = hostport.substr(close + 1);
    if (!rest.empty() && !absl::ConsumePrefix(&rest, ":")) return bad("text after ] in the host");
    port = rest;
  } else {
    if (hostport.find(':') != hostport.rfind(':')) {
      return bad("an IPv6 host goes in [ ] (redis://[::1]:6379)");
    }
    size_t colon = hostport.rfind(':');
    a.host = std::string(hostport.substr(0, colon));
    if (colon != absl::string_view::npos) port = hostport.substr(colon + 1);
  }
  if (a.host.empty()) return bad("no host");
  if (!port.empty() && (!absl::SimpleAtoi(port, &a.port) || a.port <= 0 || a.port > 65535)) {
    return bad("the port must be 1 to 65535");
  }
  return a;
}

RedisPushMemory::RedisPushMemory(Options options, Executor* executor, const Clock* clock)
    : options_(std::move(options)),
      executor_(executor),
      clock_(clock),
      thread_([this] { Run(); }) {}

RedisPushMemory::~RedisPushMemory() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
  Disconnect();
}

void RedisPushMemory::Claim(std::vector<Key> keys, absl::Time deadline, Claimed done) {
  const absl::Time now = clock_->Monotonic();
  const int64_t ms =
      std::max<int64_t>(1, absl::ToInt64Milliseconds(deadline - now + kInFlightSlack));
  absl::MutexLock lock(&mu_);
  claims_.push_back({std::move(keys), ms, now, std::move(done)});
}

void RedisPushMemory::End(const Key& key, std::optional<State> final_state) {
  absl::MutexLock lock(&mu_);
  ends_.push_back({key, final_state});
}

void RedisPushMemory::Answer(ClaimJob* job, std::vector<std::optional<State>> known) {
  if (executor_ == nullptr) return job->done(std::move(known));
  executor_->Post([done = std::move(job->done), known = std::move(known)]() mutable {
    done(std::move(known));
  });
}

void RedisPushMemory::FailOpen(std::vector<ClaimJob>* jobs) {
  if (jobs->empty()) return;
  DedupErrors()->Add(static_cast<int64_t>(jobs->size()));  // before they are answered
  for (ClaimJob& job : *jobs) Answer(&job, {});
  jobs->clear();
}

void RedisPushMemory::Run() {
  while (true) {
    std::vector<ClaimJob> claims;
    std::vector<EndJob> ends;
    bool stopping;
    {
      absl::MutexLock lock(&mu_);
      auto work = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return stopping_ || !claims_.empty() || !ends_.empty();
      };
      mu_.Await(absl::Condition(&work));
      claims.swap(claims_);
      ends.swap(ends_);
      stopping = stopping_;
    }
    if (stopping) {
      // What waits is pushed without the memory; the outcomes still queued
      // go out in one last round trip, so that their keys do not stay "in
      // flight" until they lapse.
      FailOpen(&claims);
      if (!ends.empty()) Send(&claims, &ends);
      return;
    }
    Send(&claims, &ends);
  }
}
bool RedisPushMemory::Connected() {
  if (redis_ != nullptr) return true;
  const absl::Time now = clock_->Monotonic();
  if (now < next_connect_) return false;
  next_connect_ = now + absl::Seconds(1);
  const timeval tv = absl::ToTimeval(options_.timeout);
  redis_ = redisConnectWithTimeout(options_.address.host.c_str(), options_.address.port, tv);
  if (redis_ == nullptr || redis_->err != 0) {
    Failed(redis_ != nullptr ? redis_->errstr : "cannot allocate a connection", 0);
    return false;
  }
  redisSetTimeout(redis_, tv);
  if (!options_.address.password.empty()) {
    Reply r(static_cast<redisReply*>(
        options_.address.user.empty()
            ? redisCommand(redis_, "AUTH %s", options_.address.password.c_str())
            : redisCommand(redis_, "AUTH %s %s", options_.address.user.c_str(),
                           options_.address.password.c_str())));
    if (r == nullptr || r->type == REDIS_REPLY_ERROR) {
      Failed(r != nullptr ? absl::StrCat("AUTH refused: ", r->str) : redis_->errstr, 0);
      return false;
    }
  }
  if (options_.address.db != 0) {
    Reply r(static_cast<redisReply*>(redisCommand(redis_, "SELECT %d", options_.address.db)));
    if (r == nullptr || r->type == REDIS_REPLY_ERROR) {
      Failed(r != nullptr ? absl::StrCat("SELECT refused: ", r->str) : redis_->errstr, 0);
      return false;
    }
  }
  HERALD_LOG(kInfo, kComponent, "push memory: connected to Redis at ", options_.address.host, ":",
             options_.address.port);
  return true;
}

void RedisPushMemory::Disconnect() {
  if (redis_ != nullptr) redisFree(redis_);
  redis_ = nullptr;
}

void RedisPushMemory::Failed(const std::string& why, size_t notifications) {
  if (notifications > 0) DedupErrors()->Add(static_cast<int64_t>(notifications));
  const absl::Time now = clock_->Monotonic();
  if (now >= next_warning_) {
    next_warning_ = now + absl::Seconds(10);
    HERALD_LOG(kWarning, kComponent, "push memory: Redis at ", options_.address.host, ":",
               options_.address.port, ": ", why,
               "; pushing without it (a retry may push twice) until it answers again");
  }
  Disconnect();
}

// Every claim and outcome waiting, in one pipeline: one round trip however
// many notifications share it.
void RedisPushMemory::Send(std::vector<ClaimJob>* claims, std::vector<EndJob>* ends) {
  // Claims that already waited their timeout for this thread are not sent.
  const absl::Time now = clock_->Monotonic();
  auto fresh = std::stable_partition(claims->begin(), claims->end(), [&](const ClaimJob& job) {
    return now - job.queued < options_.timeout;
  });
  std::vector<ClaimJob> late(std::make_move_iterator(fresh),
                             std::make_move_iterator(claims->end()));
  claims->erase(fresh, claims->end());
  FailOpen(&late);
  if (!Connected()) return FailOpen(claims);
  const int64_t ttl_ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.ttl));
  // Outcomes first: each is of a push claimed before anything waiting now.
  for (const EndJob& end : *ends) {
    const std::string name = KeyName(end.key);
    if (end.state) {
      redisAppendCommand(redis_, "SET %b %s PX %lld", name.data(), name.size(), Value(*end.state),
                         static_cast<long long>(end.px_ms > 0 ? end.px_ms : ttl_ms));
    } else {
      redisAppendCommand(redis_, "DEL %b", name.data(), name.size());
    }
  }
  for (const ClaimJob& job : *claims) {
    for (const Key& key : job.keys) {
      const std::string name = KeyName(key);
      redisAppendCommand(redis_, "SET %b i NX PX %lld", name.data(), name.size(),
                         static_cast<long long>(job.in_flight_ms));
      redisAppendCommand(redis_, "GET %b", name.data(), name.size());
    }
  }
  auto next = [this](Reply* out) {
    void* raw = nullptr;
    if (redisGetReply(redis_, &raw) != REDIS_OK || raw == nullptr) return false;
    out->reset(static_cast<redisReply*>(raw));
    return true;
  };
  auto broken = [this]() {
    return std::string(redis_->errstr[0] != '\0' ? redis_->errstr : "no reply");
  };
  for (size_t i = 0; i < ends->size(); ++i) {
    Reply r;
    if (!next(&r)) {
      const std::string why = broken();
      Failed(why, 0);
      return FailOpen(claims);
    }
  }
  // Job by job: a failure part-way answers the rest "push"; a device whose
  // claim Redis confirmed keeps it even then (its outcome is recorded). A
  // claim sent but not confirmed may stay "in flight" until it lapses
  // (deadline + 5 s): a retry in that time is answered 5xx, never pushed
  // twice.
  for (size_t j = 0; j < claims->size(); ++j) {
    ClaimJob& job = (*claims)[j];
    std::vector<std::optional<State>> known;
    known.reserve(job.keys.size());
    std::string why;
    for (size_t k = 0; k < job.keys.size() && why.empty(); ++k) {
      Reply set, get;
      if (!next(&set) || !next(&get)) {
        why = broken();
      } else if (set->type == REDIS_REPLY_ERROR || get->type == REDIS_REPLY_ERROR) {
        why = absl::StrCat("refused: ", set->type == REDIS_REPLY_ERROR ? set->str : get->str);
      } else if (set->type == REDIS_REPLY_STATUS) {
        known.push_back(std::nullopt);  // OK: claimed for this push
      } else if (get->type == REDIS_REPLY_STRING) {
        std::optional<State> state = FromValue(absl::string_view(get->str, get->len));
        if (!state) {
          // Not a value of Herald's (and perhaps without expiry): trusting
          // it as "in flight" would answer 5xx to every retry for as long
          // as it stays, and the homeserver's queue for that device would
          // stall. The push goes out and the key becomes this claim.
          absl::MutexLock lock(&mu_);
          ends_.push_back({job.keys[k], State::kInFlight, job.in_flight_ms});
        }
        known.push_back(state);
      } else {
        known.push_back(State::kInFlight);  // gone between the two: someone is at it
      }
    }
    if (why.empty()) {
      Answer(&job, std::move(known));
      continue;
    }
    // This job's confirmed answers stand (a shorter answer: the devices
    // past it are pushed unclaimed); every job after it is pushed without
    // the memory.
    Failed(why, claims->size() - j);
    Answer(&job, std::move(known));
    std::vector<ClaimJob> rest;
    for (size_t r = j + 1; r < claims->size(); ++r) rest.push_back(std::move((*claims)[r]));
    for (ClaimJob& r : rest) Answer(&r, {});
    return;
  }
}

}  // namespace herald::dispatcher
