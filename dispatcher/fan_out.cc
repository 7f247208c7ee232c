#include "dispatcher/fan_out.h"

#include <atomic>
#include <random>

#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "common/log.h"
#include "common/metrics.h"
#include "proto/herald/v1/protocol.h"

namespace herald::dispatcher {
namespace {

constexpr char kComponent[] = "dispatcher";
// An attempt started with less time than this left is not worth making.
constexpr absl::Duration kMinAttemptTime = absl::Milliseconds(50);
// What a shed push tells the homeserver to wait.
constexpr absl::Duration kShedRetryAfter = absl::Seconds(2);

using providers::Outcome;

// Outcome::Reason is herald.v1.Reason, value for value.
constexpr bool Same(Outcome::Reason a, herald::v1::Reason b) { return static_cast<int>(a) == b; }
static_assert(Same(Outcome::Reason::kUnspecified, herald::v1::REASON_UNSPECIFIED) &&
              Same(Outcome::Reason::kPushed, herald::v1::REASON_PUSHED) &&
              Same(Outcome::Reason::kTokenDead, herald::v1::REASON_TOKEN_DEAD) &&
              Same(Outcome::Reason::kUnroutable, herald::v1::REASON_UNROUTABLE) &&
              Same(Outcome::Reason::kEndpointRefused, herald::v1::REASON_ENDPOINT_REFUSED) &&
              Same(Outcome::Reason::kPayloadRefused, herald::v1::REASON_PAYLOAD_REFUSED) &&
              Same(Outcome::Reason::kCredentialsRefused, herald::v1::REASON_CREDENTIALS_REFUSED) &&
              Same(Outcome::Reason::kProviderUnavailable,
                   herald::v1::REASON_PROVIDER_UNAVAILABLE) &&
              Same(Outcome::Reason::kDeadline, herald::v1::REASON_DEADLINE) &&
              Same(Outcome::Reason::kShed, herald::v1::REASON_SHED) &&
              Same(Outcome::Reason::kDuplicate, herald::v1::REASON_DUPLICATE) &&
              Same(Outcome::Reason::kNotSent, herald::v1::REASON_NOT_SENT) &&
              Same(Outcome::Reason::kInternal, herald::v1::REASON_INTERNAL));

herald::v1::Outcome ToProto(Outcome::Kind kind) {
  switch (kind) {
    case Outcome::Kind::kDelivered:
      return herald::v1::OUTCOME_DELIVERED;
    case Outcome::Kind::kRejected:
      return herald::v1::OUTCOME_REJECTED;
    case Outcome::Kind::kRetry:
      return herald::v1::OUTCOME_RETRY;
    case Outcome::Kind::kFailed:
      return herald::v1::OUTCOME_FAILED;
    case Outcome::Kind::kSkipped:
      return herald::v1::OUTCOME_SKIPPED;
    case Outcome::Kind::kLimited:
      return herald::v1::OUTCOME_LIMITED;
    case Outcome::Kind::kDropped:
      return herald::v1::OUTCOME_DROPPED;
  }
  return herald::v1::OUTCOME_UNSPECIFIED;
}

// Devices with no app share the "(unroutable)" label.
const AppCounters& Unroutable() {
  static const AppCounters* counters = new AppCounters("(unroutable)");
  return *counters;
}

Counter* DedupHits(RecentPushes::State state) {
  static Counter* const counters[] = {
      Metrics::Global().GetCounter(
          "herald_dedup_hits_total",
          "Pushes answered from memory instead of pushed again, by what was known.",
          Labels({{"state", "in_flight"}})),
      Metrics::Global().GetCounter("herald_dedup_hits_total", "", Labels({{"state", "delivered"}})),
      Metrics::Global().GetCounter("herald_dedup_hits_total", "", Labels({{"state", "rejected"}})),
      Metrics::Global().GetCounter("herald_dedup_hits_total", "", Labels({{"state", "dropped"}})),
  };
  return counters[static_cast<int>(state)];
}

// One notify request in flight: owns the per-device state until every device
// has an outcome, then finishes the RPC. Shared by the provider callbacks and
// retry timers that refer to it.
class FanOut : public std::enable_shared_from_this<FanOut> {
 public:
  FanOut(std::shared_ptr<const AppRegistry> apps, const FanOutEnv& env,
         const herald::v1::DispatchRequest* request, herald::v1::DispatchResponse* response,
         std::function<void()> on_done, absl::Time deadline)
      : apps_(std::move(apps)),
        env_(env),
        request_(request),
        response_(response),
        on_done_(std::move(on_done)),
        deadline_(deadline),
        started_(env.clock->Monotonic()),
        devices_(request->notification().devices_size()) {}

  // Routes each device here, on the caller's thread, and asks the push
  // memory about all of them at once (it answers here or later, on the
  // pool); the pushes themselves run on the work pool, one task for the
  // notification's first attempts (a task per device cost 12 % more CPU in
  // bench scenario 3 on two cores). Once the task is posted the request may
  // be answered (and freed) at any moment: nothing here reads it after that.
  void Start() {
    const auto& devices = request_->notification().devices();
    const int n = devices.size();
    pending_.store(n);
    if (n == 0) {
      Finish();
      return;
    }
    absl::InlinedVector<int, 4> to_push;
    std::vector<int> to_claim;
    std::vector<PushMemory::Key> keys;
    for (int i = 0; i < n; ++i) {
      AppMatch match = apps_->Match(devices[i].app_id());
      if (match.app == nullptr) {
        HERALD_LOG(kDebug, kComponent, "[", herald::v1::LogId(*request_), "] app_id '",
                   devices[i].app_id(), "': ", match.reason, "; pushkey ",
                   RedactPushkey(devices[i].pushkey()), " rejected");
        Record(i, Outcome::Rejected(match.reason).Because(Outcome::Reason::kUnroutable));
        continue;
      }
      devices_[i].app = match.app;
      if (NeedsClaim(i)) {
        to_claim.push_back(i);
        keys.push_back(devices_[i].key);
      } else {
        to_push.push_back(i);
      }
    }
    if (to_claim.empty()) return PostAttempts(std::move(to_push));
    // One question to the memory for the whole notification (one round trip
    // when it is shared). Devices stay unanswered until then, so the request
    // lives on.
    env_.memory->Claim(
        std::move(keys), deadline_,
        [self = shared_from_this(), to_push = std::move(to_push), to_claim = std::move(to_claim)](
            std::vector<std::optional<PushMemory::State>> known) mutable {
          for (size_t k = 0; k < to_claim.size(); ++k) {
            // A memory that could not answer: push (fail open).
            if (k < known.size() && self->AnswerFromMemory(to_claim[k], known[k])) {
              continue;
            }
            self->devices_[to_claim[k]].claimed = k < known.size();
            to_push.push_back(to_claim[k]);
          }
          self->PostAttempts(std::move(to_push));
        });
  }

 private:
  struct DeviceState {
    const App* app = nullptr;
    int attempts = 0;
    Outcome outcome;
    bool claimed = false;  // this request owns the RecentPushes entry
    RecentPushes::Key key{};
  };

  // Each Attempt may end the notification only once every device has an
  // outcome, so only the last one's can: the loop is done with it by then.
  void PostAttempts(absl::InlinedVector<int, 4> to_push) {
    if (to_push.empty()) return;
    env_.executor->Post([self = shared_from_this(), to_push = std::move(to_push)] {
      for (int i : to_push) self->Attempt(i);
    });
  }

  // Whether device `i`'s push is one the memory is asked about: a
  // homeserver retry of a push that already happened (or is happening) is
  // answered from memory instead of pushed again. Only events count: a
  // badge update without event_id must always go out.
  bool NeedsClaim(int i) {
    const herald::v1::Notification& n = request_->notification();
    if (env_.memory == nullptr || !n.has_event_id() || n.event_id().empty()) return false;
    DeviceState& d = devices_[i];
    d.key = RecentPushes::MakeKey(n.event_id(), n.devices(i).app_id(), n.devices(i).pushkey());
    // The same device twice in one request is the homeserver's own doing:
    // push it as asked rather than answer "in flight" to ourselves.
    return claimed_here_.insert(d.key).second;
  }

  // Device `i` as the memory knows it: true when that answers it (nothing
  // to push), false when it is this request's to push (claimed).
  bool AnswerFromMemory(int i, const std::optional<RecentPushes::State>& known) {
    if (!known) return false;
    DedupHits(*known)->Add();
    switch (*known) {
      case RecentPushes::State::kDelivered:
        Record(i, Outcome::Delivered("already pushed for this event; not pushed again")
                      .Because(Outcome::Reason::kDuplicate));
        break;
      case RecentPushes::State::kRejected:
        Record(i, Outcome::Rejected("already rejected for this event")
                      .Because(Outcome::Reason::kDuplicate));
        break;
      case RecentPushes::State::kDropped:
        Record(i, Outcome::Dropped("already dropped for this event; not pushed again")
                      .Because(Outcome::Reason::kDuplicate));
        break;
      case RecentPushes::State::kInFlight:
        // Do not push twice; the homeserver will ask again when it is done.
        Record(i,
               Outcome::Retry("the same push is in flight").Because(Outcome::Reason::kDuplicate));
        break;
    }
    return true;
  }

  void PostAttempt(int i) {
    auto self = shared_from_this();
    env_.executor->Post([self, i] { self->Attempt(i); });
  }

  void Attempt(int i) {
    DeviceState& d = devices_[i];
    if (!d.app->limiter->TryAcquire()) {
      if (!shed_logged_.exchange(true)) {  // once per notification, not per device
        HERALD_LOG(kWarning, kComponent, "[", herald::v1::LogId(*request_), "] app ",
                   d.app->pattern, ": ", d.app->limiter->limit(),
                   " pushes in flight already; shedding load");
      }
      Record(i, Outcome::Limited("the app's in-flight limit is full", kShedRetryAfter));
      return;
    }
    ++d.attempts;
    d.app->counters->attempts->Add();
    providers::PushRequest push;
    push.notification = &request_->notification();
    push.device = &request_->notification().devices(i);
    push.request_id = herald::v1::LogId(*request_);
    push.deadline = deadline_;
    push.attempt = d.attempts;
    auto self = shared_from_this();
    d.app->provider->Push(push, [self, i](Outcome outcome) {
      self->devices_[i].app->limiter->Release();
      self->OnOutcome(i, std::move(outcome));
    });
  }

  void OnOutcome(int i, Outcome outcome) {
    DeviceState& d = devices_[i];
    const RetryPolicy& policy = env_.policy;
    if (outcome.kind == Outcome::Kind::kRetry && d.attempts < policy.max_attempts) {
      absl::Duration backoff =
          policy.initial_backoff * static_cast<double>(1 << (d.attempts - 1)) * policy.jitter();
      absl::Duration wait = std::max(backoff, outcome.retry_after);
      const absl::Time now = env_.clock->Monotonic();
      if (now + wait + kMinAttemptTime < deadline_) {
        HERALD_LOG(kDebug, kComponent, "[", herald::v1::LogId(*request_), "] app ", d.app->pattern,
                   " pushkey ", RedactPushkey(request_->notification().devices(i).pushkey()),
                   ": attempt ", d.attempts, " ", outcome.detail, "; retrying in ",
                   absl::FormatDuration(wait));
        auto self = shared_from_this();
        env_.timer->RunAt(now + wait, [self, i] { self->PostAttempt(i); });
        return;
      }
    }
    Record(i, std::move(outcome));
  }

  void Record(int i, Outcome outcome) {
    if (devices_[i].claimed) {
      std::optional<RecentPushes::State> final_state;
      if (outcome.kind == Outcome::Kind::kDelivered || outcome.kind == Outcome::Kind::kSkipped) {
        final_state = RecentPushes::State::kDelivered;
      } else if (outcome.kind == Outcome::Kind::kRejected) {
        final_state = RecentPushes::State::kRejected;
      } else if (outcome.kind == Outcome::Kind::kDropped) {
        final_state = RecentPushes::State::kDropped;  // the same payload would be refused again
      }
      env_.memory->End(devices_[i].key, final_state);
    }
    devices_[i].outcome = std::move(outcome);
    if (pending_.fetch_sub(1) == 1) Finish();
  }

  void Finish() {
    const auto& devices = request_->notification().devices();
    int delivered = 0, rejected = 0, dropped = 0, other = 0, unroutable = 0;
    absl::flat_hash_set<absl::string_view> rejected_seen;
    for (int i = 0; i < devices.size(); ++i) {
      const DeviceState& d = devices_[i];
      unroutable += d.app == nullptr;
      herald::v1::DeviceOutcome* o = response_->add_outcomes();
      o->set_app_id(devices[i].app_id());
      o->set_pushkey(devices[i].pushkey());
      o->set_outcome(ToProto(d.outcome.kind));
      o->set_detail(d.outcome.detail);
      o->set_retry_after_ms(absl::ToInt64Milliseconds(d.outcome.retry_after));
      o->set_attempts(d.attempts);
      o->set_reason(static_cast<herald::v1::Reason>(d.outcome.reason));
      const AppCounters& counters = d.app != nullptr ? *d.app->counters : Unroutable();
      counters.outcomes[static_cast<int>(d.outcome.kind)]->Add();
      switch (d.outcome.kind) {
        case Outcome::Kind::kRejected:
          ++rejected;
          if (rejected_seen.insert(devices[i].pushkey()).second) {
            response_->add_rejected(devices[i].pushkey());
          }
          break;
        case Outcome::Kind::kDelivered:
        case Outcome::Kind::kSkipped:
          ++delivered;
          break;
        case Outcome::Kind::kDropped:
          // Answered 200: a 5xx would hold every later push to this device
          // behind a message no retry can deliver.
          ++dropped;
          HERALD_LOG(kWarning, kComponent, "[", herald::v1::LogId(*request_), "] app ",
                     devices[i].app_id(), " pushkey ", RedactPushkey(devices[i].pushkey()),
                     ": notification dropped, the pushkey is kept: ", d.outcome.detail);
          break;
        case Outcome::Kind::kLimited:
          ++other;  // logged when it was shed
          break;
        default:
          ++other;
          HERALD_LOG(kWarning, kComponent, "[", herald::v1::LogId(*request_), "] app ",
                     devices[i].app_id(), " pushkey ", RedactPushkey(devices[i].pushkey()), ": ",
                     OutcomeKindName(d.outcome.kind), " after ", d.attempts,
                     " attempt(s): ", d.outcome.detail);
      }
    }
    if (unroutable > 0) {
      HERALD_LOG(kInfo, kComponent, "[", herald::v1::LogId(*request_), "] ", unroutable, " of ",
                 devices.size(), " device(s) had an unknown or ambiguous app_id; rejected");
    }
    // A line per notification at info when something was not delivered
    // (the bridge's access line has the counts of every one).
    const LogLevel level =
        delivered == static_cast<int>(devices.size()) ? LogLevel::kDebug : LogLevel::kInfo;
    if (LogEnabled(level)) {
      LogLine(level, kComponent,
              absl::StrCat("[", herald::v1::LogId(*request_), "] ", devices.size(),
                           " device(s): ", delivered, " delivered, ", rejected, " rejected, ",
                           dropped, " dropped, ", other, " failed"));
    }
    static Counter* notifications = Metrics::Global().GetCounter(
        "herald_dispatch_notifications_total", "Notifications dispatched.");
    static Histogram* duration = Metrics::Global().GetHistogram(
        "herald_dispatch_duration_seconds", "Time from receipt to every device's outcome.");
    notifications->Add();
    duration->Observe(absl::ToDoubleSeconds(env_.clock->Monotonic() - started_));
    on_done_();
  }

  std::shared_ptr<const AppRegistry> apps_;  // kept alive across a reload
  const FanOutEnv& env_;                     // outlives every fan-out
  const herald::v1::DispatchRequest* request_;
  herald::v1::DispatchResponse* response_;
  std::function<void()> on_done_;
  absl::Time deadline_;
  absl::Time started_;
  std::vector<DeviceState> devices_;
  std::atomic<bool> shed_logged_{false};
  absl::flat_hash_set<RecentPushes::Key, absl::Hash<RecentPushes::Key>> claimed_here_;
  std::atomic<int> pending_{0};
};

}  // namespace

double RandomJitter() {
  thread_local std::mt19937 rng(std::random_device{}());
  return std::uniform_real_distribution<double>(0.5, 1.5)(rng);
}

void StartFanOut(std::shared_ptr<const AppRegistry> apps, const FanOutEnv& env,
                 const herald::v1::DispatchRequest* request, herald::v1::DispatchResponse* response,
                 absl::Time deadline, std::function<void()> on_done) {
  std::make_shared<FanOut>(std::move(apps), env, request, response, std::move(on_done), deadline)
      ->Start();
}

}  // namespace herald::dispatcher
