#include "dispatcher/dispatcher_service.h"

#include <atomic>
#include <chrono>
#include <random>

#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "rapidjson/encodedstream.h"
#include "rapidjson/memorystream.h"
#include "rapidjson/reader.h"

namespace herald::dispatcher {
namespace {

constexpr char kComponent[] = "dispatcher";
// An attempt started with less time than this left is not worth making.
constexpr absl::Duration kMinAttemptTime = absl::Milliseconds(50);
// Homeservers send one device per notification (Synapse) or a handful; the
// cap keeps one request from holding a thread with thousands.
constexpr int kMaxDevices = 1000;
// What a shed push tells the homeserver to wait.
constexpr absl::Duration kShedRetryAfter = absl::Seconds(2);
// Time kept back from the caller's deadline to send the answer.
constexpr absl::Duration kAnswerMargin = absl::Milliseconds(200);

using providers::Outcome;

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
      Metrics::Global().GetCounter("herald_dedup_hits_total", "",
                                   Labels({{"state", "delivered"}})),
      Metrics::Global().GetCounter("herald_dedup_hits_total", "",
                                   Labels({{"state", "rejected"}})),
      Metrics::Global().GetCounter("herald_dedup_hits_total", "",
                                   Labels({{"state", "dropped"}})),
  };
  return counters[static_cast<int>(state)];
}

double Jitter() {
  thread_local std::mt19937 rng(std::random_device{}());
  return std::uniform_real_distribution<double>(0.5, 1.5)(rng);
}

// One notify request in flight: owns the per-device state until every device
// has an outcome, then finishes the RPC. Shared by the provider callbacks and
// retry timers that refer to it.
class FanOut : public std::enable_shared_from_this<FanOut> {
 public:
  FanOut(std::shared_ptr<const AppRegistry> apps, const RetryPolicy& policy, TimerQueue* timers,
         WorkPool* pool, RecentPushes* recent, const herald::v1::DispatchRequest* request,
         herald::v1::DispatchResponse* response, std::function<void()> on_done,
         absl::Time deadline)
      : apps_(std::move(apps)),
        policy_(policy),
        timers_(timers),
        pool_(pool),
        recent_(recent),
        request_(request),
        response_(response),
        on_done_(std::move(on_done)),
        deadline_(deadline),
        started_(absl::Now()),
        devices_(request->notification().devices_size()) {}

  // Routes each device and answers repeats from memory here, on the caller's
  // thread; the pushes themselves run on the work pool, one task for the
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
    for (int i = 0; i < n; ++i) {
      AppMatch match = apps_->Match(devices[i].app_id());
      if (match.app == nullptr) {
        HERALD_LOG(kDebug, kComponent, "[", request_->request_id(), "] app_id '",
                   devices[i].app_id(), "': ", match.reason, "; pushkey ",
                   RedactPushkey(devices[i].pushkey()), " rejected");
        Record(i, Outcome::Rejected(match.reason));
        continue;
      }
      devices_[i].app = match.app;
      if (!AlreadyPushed(i)) to_push.push_back(i);
    }
    if (to_push.empty()) return;
    // Each Attempt may end the notification only once every device has an
    // outcome, so only the last one's can: the loop is done with it by then.
    pool_->Post([self = shared_from_this(), to_push = std::move(to_push)] {
      for (int i : to_push) self->Attempt(i);
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

  // A homeserver retry of a push that already happened (or is happening)
  // answers from memory instead of pushing again. Only events count: a
  // badge update without event_id must always go out.
  bool AlreadyPushed(int i) {
    const herald::v1::Notification& n = request_->notification();
    if (recent_ == nullptr || !n.has_event_id() || n.event_id().empty()) return false;
    DeviceState& d = devices_[i];
    d.key = RecentPushes::MakeKey(n.event_id(), n.devices(i).app_id(), n.devices(i).pushkey());
    // The same device twice in one request is the homeserver's own doing:
    // push it as asked rather than answer "in flight" to ourselves.
    if (!claimed_here_.insert(d.key).second) return false;
    std::optional<RecentPushes::State> known = recent_->Begin(d.key, absl::Now());
    if (!known) {
      d.claimed = true;
      return false;
    }
    DedupHits(*known)->Add();
    switch (*known) {
      case RecentPushes::State::kDelivered:
        Record(i, Outcome::Delivered("already pushed for this event; not pushed again"));
        break;
      case RecentPushes::State::kRejected:
        Record(i, Outcome::Rejected("already rejected for this event"));
        break;
      case RecentPushes::State::kDropped:
        Record(i, Outcome::Dropped("already dropped for this event; not pushed again"));
        break;
      case RecentPushes::State::kInFlight:
        // Do not push twice; the homeserver will ask again when it is done.
        Record(i, Outcome::Retry("the same push is in flight"));
        break;
    }
    return true;
  }

  void PostAttempt(int i) {
    auto self = shared_from_this();
    pool_->Post([self, i] { self->Attempt(i); });
  }

  void Attempt(int i) {
    DeviceState& d = devices_[i];
    if (!d.app->limiter->TryAcquire()) {
      if (!shed_logged_.exchange(true)) {  // once per notification, not per device
        HERALD_LOG(kWarning, kComponent, "[", request_->request_id(), "] app ", d.app->pattern,
                   ": ", d.app->limiter->limit(), " pushes in flight already; shedding load");
      }
      Record(i, Outcome::Limited("the app's in-flight limit is full", kShedRetryAfter));
      return;
    }
    ++d.attempts;
    d.app->counters->attempts->Add();
    providers::PushRequest push;
    push.notification = &request_->notification();
    push.device = &request_->notification().devices(i);
    push.request_id = request_->request_id();
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
    if (outcome.kind == Outcome::Kind::kRetry && d.attempts < policy_.max_attempts) {
      absl::Duration backoff =
          policy_.initial_backoff * static_cast<double>(1 << (d.attempts - 1)) * Jitter();
      absl::Duration wait = std::max(backoff, outcome.retry_after);
      if (absl::Now() + wait + kMinAttemptTime < deadline_) {
        HERALD_LOG(kDebug, kComponent, "[", request_->request_id(), "] app ", d.app->pattern,
                   " pushkey ", RedactPushkey(request_->notification().devices(i).pushkey()),
                   ": attempt ", d.attempts, " ", outcome.detail, "; retrying in ",
                   absl::FormatDuration(wait));
        auto self = shared_from_this();
        timers_->RunAfter(wait, [self, i] { self->PostAttempt(i); });
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
      recent_->End(devices_[i].key, final_state, absl::Now());
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
          HERALD_LOG(kWarning, kComponent, "[", request_->request_id(), "] app ",
                     devices[i].app_id(), " pushkey ", RedactPushkey(devices[i].pushkey()),
                     ": notification dropped, the pushkey is kept: ", d.outcome.detail);
          break;
        case Outcome::Kind::kLimited:
          ++other;  // logged when it was shed
          break;
        default:
          ++other;
          HERALD_LOG(kWarning, kComponent, "[", request_->request_id(), "] app ",
                     devices[i].app_id(), " pushkey ", RedactPushkey(devices[i].pushkey()),
                     ": ", OutcomeKindName(d.outcome.kind), " after ", d.attempts,
                     " attempt(s): ", d.outcome.detail);
      }
    }
    if (unroutable > 0) {
      HERALD_LOG(kInfo, kComponent, "[", request_->request_id(), "] ", unroutable, " of ",
                 devices.size(), " device(s) had an unknown or ambiguous app_id; rejected");
    }
    HERALD_LOG(kDebug, kComponent, "[", request_->request_id(), "] ", devices.size(),
               " device(s): ", delivered, " delivered, ", rejected, " rejected, ", dropped,
               " dropped, ", other, " failed");
    static Counter* notifications = Metrics::Global().GetCounter(
        "herald_dispatch_notifications_total", "Notifications dispatched.");
    static Histogram* duration = Metrics::Global().GetHistogram(
        "herald_dispatch_duration_seconds", "Time from receipt to every device's outcome.");
    notifications->Add();
    duration->Observe(absl::ToDoubleSeconds(absl::Now() - started_));
    on_done_();
  }

  std::shared_ptr<const AppRegistry> apps_;  // kept alive across a reload
  RetryPolicy policy_;
  TimerQueue* timers_;
  WorkPool* pool_;
  RecentPushes* recent_;
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

// Accepts the SAX events of a JSON text whose top level is an object; stops
// at the first event otherwise. Checks without building a tree.
// Nesting is bounded as the bridge bounds it: providers parse and copy these
// texts recursively, and gRPC callers skip the bridge.
struct TopLevelObject : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, TopLevelObject> {
  static constexpr int kMaxDepth = 256;
  bool started = false;
  int depth = 0;
  bool Default() { return started; }
  bool StartObject() {
    started = true;
    return ++depth <= kMaxDepth;
  }
  bool StartArray() { return started && ++depth <= kMaxDepth; }
  bool EndObject(rapidjson::SizeType) {
    --depth;
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    --depth;
    return true;
  }
};

// The gRPC caller's deadline; infinite when it set none.
absl::Time CallerDeadline(const grpc::CallbackServerContext& context) {
  if (context.deadline() == std::chrono::system_clock::time_point::max()) {
    return absl::InfiniteFuture();
  }
  return absl::FromChrono(context.deadline());
}

bool IsJsonObjectOrEmpty(const std::string& text) {
  if (text.empty()) return true;
  rapidjson::MemoryStream memory(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in(memory);
  TopLevelObject handler;
  rapidjson::Reader reader;
  return !reader
              .Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(
                  in, handler)
              .IsError();
}

}  // namespace

// The bridge only sends valid requests; other gRPC callers may not. Providers
// embed the JSON fields verbatim, so they must be JSON objects.
std::string ValidateRequest(const herald::v1::DispatchRequest& request) {
  const herald::v1::Notification& n = request.notification();
  if (n.devices_size() == 0) return "notification.devices must not be empty";
  if (n.devices_size() > kMaxDevices) {
    return absl::StrCat("notification.devices: at most ", kMaxDevices, " devices per notification");
  }
  if (!IsJsonObjectOrEmpty(n.content_json())) {
    return "notification.content_json must be a JSON object (nested at most 256 deep)";
  }
  for (int i = 0; i < n.devices_size(); ++i) {
    const herald::v1::Device& d = n.devices(i);
    const char* wrong = d.app_id().empty()                  ? ".app_id must not be empty"
                        : d.pushkey().empty()               ? ".pushkey must not be empty"
                        : !IsJsonObjectOrEmpty(d.data_json())   ? ".data_json must be a JSON object (nested at most 256 deep)"
                        : !IsJsonObjectOrEmpty(d.tweaks_json()) ? ".tweaks_json must be a JSON object (nested at most 256 deep)"
                                                                : nullptr;
    if (wrong != nullptr) return absl::StrCat("notification.devices[", i, "]", wrong);
  }
  return "";
}

DispatcherService::DispatcherService(std::shared_ptr<const AppRegistry> apps,
                                     RetryPolicy policy, TimerQueue* timers, WorkPool* pool,
                                     RecentPushes* recent)
    : apps_(std::move(apps)), policy_(policy), timers_(timers), pool_(pool), recent_(recent) {}

absl::Time DispatcherService::DeadlineFor(const herald::v1::DispatchRequest& request,
                                          absl::Time caller_deadline) const {
  const absl::Time now = absl::Now();
  absl::Time theirs = caller_deadline;
  if (request.timeout_ms() > 0) {
    theirs = std::min(theirs, now + absl::Milliseconds(request.timeout_ms()));
  }
  absl::Time deadline = now + policy_.deadline;
  if (theirs != absl::InfiniteFuture()) {
    // Finish a little before the caller gives up, so that it gets our
    // per-device answer rather than a bare DEADLINE_EXCEEDED.
    absl::Duration margin = std::min(kAnswerMargin, (theirs - now) / 10);
    deadline = std::min(deadline, theirs - margin);
  }
  return deadline;
}

void DispatcherService::Start(const herald::v1::DispatchRequest* request,
                              herald::v1::DispatchResponse* response, absl::Time deadline,
                              std::function<void()> on_done) {
  std::shared_ptr<const AppRegistry> apps = Apps();
  auto fan_out = std::make_shared<FanOut>(std::move(apps), policy_, timers_, pool_, recent_,
                                          request, response, std::move(on_done), deadline);
  fan_out->Start();
}

grpc::ServerUnaryReactor* DispatcherService::Dispatch(
    grpc::CallbackServerContext* context, const herald::v1::DispatchRequest* request,
    herald::v1::DispatchResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (std::string problem = ValidateRequest(*request); !problem.empty()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, problem));
    return reactor;
  }
  Start(request, response, DeadlineFor(*request, CallerDeadline(*context)),
        [reactor] { reactor->Finish(grpc::Status::OK); });
  return reactor;
}

namespace {

// One DispatchStream: reads batches, starts every notification at once, and
// writes answers as they finish. One write is in flight at a time; answers
// that finish meanwhile wait in `ready_` and leave together in the next one.
class StreamReactor
    : public grpc::ServerBidiReactor<herald::v1::DispatchBatch, herald::v1::DispatchResults>,
      public DrainableStream {
 public:
  StreamReactor(DispatcherService* service, absl::Time stream_deadline)
      : service_(service), stream_deadline_(stream_deadline) {
    service_->Register(this);
    StartRead(&batch_);
  }

  void Drain() override {
    Next next;
    {
      absl::MutexLock lock(&mu_);
      next = DecideLocked();  // the service is draining now
    }
    Act(next);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Next next;
      {
        absl::MutexLock lock(&mu_);
        reads_done_ = true;
        next = DecideLocked();
      }
      Act(next);
      return;
    }
    for (herald::v1::DispatchRequest& request : *batch_.mutable_requests()) {
      auto item = std::make_shared<Item>();
      item->request = std::move(request);
      {
        absl::MutexLock lock(&mu_);
        ++pending_;
      }
      if (service_->draining()) {
        Complete(item, grpc::StatusCode::UNAVAILABLE, herald::v1::kDispatcherDrainingMessage);
        continue;
      }
      if (std::string problem = ValidateRequest(item->request); !problem.empty()) {
        Complete(item, grpc::StatusCode::INVALID_ARGUMENT, problem);
        continue;
      }
      service_->Start(&item->request, &item->response,
                      service_->DeadlineFor(item->request, stream_deadline_),
                      [this, item] { Complete(item, grpc::StatusCode::OK, ""); });
    }
    batch_.Clear();
    bool finished;
    {
      absl::MutexLock lock(&mu_);
      finished = finished_;
    }
    if (!finished) StartRead(&batch_);
  }

  void OnWriteDone(bool ok) override {
    Next next;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) broken_ = true;  // the caller went away; answers have nowhere to go
      next = DecideLocked();
    }
    Act(next);
  }

  void OnDone() override {
    // Only reached after Finish(), which waits for every pending item.
    service_->Unregister(this);
    delete this;
  }

 private:
  struct Item {
    herald::v1::DispatchRequest request;
    herald::v1::DispatchResponse response;
  };
  enum class Next { kNothing, kWrite, kFinish, kFinishDraining };

  void Complete(const std::shared_ptr<Item>& item, grpc::StatusCode code,
                const std::string& message) {
    Next next;
    {
      absl::MutexLock lock(&mu_);
      --pending_;
      if (!broken_) {
        herald::v1::DispatchResult* result = ready_.add_results();
        result->set_request_id(item->request.request_id());
        result->set_code(code);
        result->set_message(message);
        result->mutable_response()->Swap(&item->response);
      }
      next = DecideLocked();
    }
    Act(next);
  }

  // What to do next; the gRPC calls themselves are made without the lock.
  Next DecideLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_) return Next::kNothing;
    if (!broken_ && ready_.results_size() > 0) {
      writing_ = true;
      out_.Clear();
      out_.Swap(&ready_);
      return Next::kWrite;
    }
    const bool draining = service_->draining();
    if ((reads_done_ || draining) && pending_ == 0) {
      finished_ = true;
      return draining ? Next::kFinishDraining : Next::kFinish;
    }
    return Next::kNothing;
  }

  void Act(Next next) {
    if (next == Next::kWrite) StartWrite(&out_);
    if (next == Next::kFinish) Finish(grpc::Status::OK);
    // Whatever the caller sent that crosses this was not started: it may
    // resend it elsewhere (see herald::v1::kDispatcherDrainingMessage).
    if (next == Next::kFinishDraining) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, herald::v1::kDispatcherDrainingMessage));
    }
  }

  DispatcherService* service_;
  absl::Time stream_deadline_;
  herald::v1::DispatchBatch batch_;  // reads only
  absl::Mutex mu_;
  herald::v1::DispatchResults ready_ ABSL_GUARDED_BY(mu_);
  herald::v1::DispatchResults out_;  // owned by the write in flight
  int pending_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

std::shared_ptr<const AppRegistry> DispatcherService::Apps() const {
  absl::MutexLock lock(&apps_mu_);
  return apps_;
}

std::shared_ptr<const AppRegistry> DispatcherService::SetApps(
    std::shared_ptr<const AppRegistry> apps) {
  absl::MutexLock lock(&apps_mu_);
  apps_.swap(apps);
  return apps;
}

void DispatcherService::BeginDrain() {
  draining_.store(true);
  // Holding the lock keeps every listed stream alive: a stream unregisters
  // in OnDone, which gRPC runs on its own threads (server reactors are not
  // inlineable), so it waits here rather than deleting the stream under us.
  absl::MutexLock lock(&streams_mu_);
  for (DrainableStream* s : streams_) s->Drain();
}

void DispatcherService::Register(DrainableStream* stream) {
  absl::MutexLock lock(&streams_mu_);
  streams_.insert(stream);
}

void DispatcherService::Unregister(DrainableStream* stream) {
  absl::MutexLock lock(&streams_mu_);
  streams_.erase(stream);
}

grpc::ServerBidiReactor<herald::v1::DispatchBatch, herald::v1::DispatchResults>*
DispatcherService::DispatchStream(grpc::CallbackServerContext* context) {
  return new StreamReactor(this, CallerDeadline(*context));
}

}  // namespace herald::dispatcher
