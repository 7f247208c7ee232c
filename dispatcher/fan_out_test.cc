// The fan-out in-process: scripted providers, manual time, no threads and
// no sleeps. Outcomes × attempts × deadline × limiter × push memory.
#include "dispatcher/fan_out.h"

#include <deque>
#include <map>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace herald::dispatcher {
namespace {

using providers::Outcome;

// Clock, executor and timer in one, on the test's thread: posted work runs
// when Run() is called, and timers as Run() moves time on to them. The time of
// day follows the monotonic time except where StepWallClock() moves it alone.
class ManualTime final : public Clock, public Executor, public Timer {
 public:
  absl::Time Now() const override { return now_ + wall_step_; }
  absl::Time Monotonic() const override { return now_; }
  void Post(std::function<void()> fn) override { ready_.push_back(std::move(fn)); }
  void RunAt(absl::Time when, std::function<void()> fn) override {
    waits_.push_back(when - now_);
    timers_.emplace(when, std::move(fn));
  }

  // Runs what is posted, then the next timer due (moving the clock to it),
  // until nothing is left.
  void Run() {
    while (true) {
      while (!ready_.empty()) {
        std::function<void()> fn = std::move(ready_.front());
        ready_.pop_front();
        fn();
      }
      if (timers_.empty()) return;
      auto next = timers_.begin();
      now_ = std::max(now_, next->first);
      std::function<void()> fn = std::move(next->second);
      timers_.erase(next);
      fn();
    }
  }
  void Advance(absl::Duration d) { now_ += d; }
  // The system clock is set: the time of day jumps, monotonic time does not.
  void StepWallClock(absl::Duration d) { wall_step_ += d; }

  // Every backoff asked for, in order.
  const std::vector<absl::Duration>& waits() const { return waits_; }

 private:
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  absl::Duration wall_step_;
  std::deque<std::function<void()>> ready_;
  std::multimap<absl::Time, std::function<void()>> timers_;
  std::vector<absl::Duration> waits_;
};

// Answers each pushkey's attempts from its script (then Delivered), or holds
// the answers while held, and records every call.
class ScriptedProvider final : public providers::Provider {
 public:
  struct Call {
    std::string pushkey;
    int attempt;
    absl::Time deadline;
  };

  void Script(const std::string& pushkey, std::vector<Outcome> outcomes) {
    scripts_[pushkey] = std::deque<Outcome>(outcomes.begin(), outcomes.end());
  }
  void Hold() { holding_ = true; }
  // Answers the held pushes as scripted, and stops holding.
  void Release() {
    holding_ = false;
    std::vector<std::function<void()>> held = std::move(held_);
    for (auto& answer : held) answer();
  }

  void Push(const providers::PushRequest& r, std::function<void(Outcome)> done) override {
    calls.push_back({r.device->pushkey(), r.attempt, r.deadline});
    std::deque<Outcome>& script = scripts_[r.device->pushkey()];
    Outcome outcome = Outcome::Delivered("pushed");
    if (!script.empty()) {
      outcome = script.front();
      script.pop_front();
    }
    if (holding_) {
      held_.push_back([done = std::move(done), outcome] { done(outcome); });
    } else {
      done(std::move(outcome));
    }
  }

  std::vector<Call> calls;

 private:
  std::map<std::string, std::deque<Outcome>> scripts_;
  bool holding_ = false;
  std::vector<std::function<void()>> held_;
};

double NoJitter() { return 1.0; }

class FanOutTest : public ::testing::Test {
 protected:
  FanOutTest() {
    std::vector<App> apps;
    App app{"com.example.*", "scripted", std::make_unique<ScriptedProvider>()};
    provider_ = static_cast<ScriptedProvider*>(app.provider.get());
    app.limiter = std::make_unique<InflightLimiter>(2);
    apps.push_back(std::move(app));
    apps_ = std::make_shared<AppRegistry>(std::move(apps));
    env_.clock = &time_;
    env_.executor = &time_;
    env_.timer = &time_;
    env_.memory = &memory_;
    env_.policy.initial_backoff = absl::Milliseconds(250);
    env_.policy.max_attempts = 4;
    env_.policy.jitter = &NoJitter;
  }

  // A notification for (app_id, pushkey) pairs; no event_id when empty.
  static herald::v1::DispatchRequest Request(
      const std::vector<std::pair<std::string, std::string>>& devices,
      const std::string& event_id = "$e") {
    herald::v1::DispatchRequest r;
    r.set_request_id("test");
    if (!event_id.empty()) r.mutable_notification()->set_event_id(event_id);
    for (auto& [app_id, pushkey] : devices) {
      herald::v1::Device* d = r.mutable_notification()->add_devices();
      d->set_app_id(app_id);
      d->set_pushkey(pushkey);
    }
    return r;
  }

  struct Result {
    herald::v1::DispatchResponse response;
    int done = 0;  // times on_done ran
  };

  // Starts the fan-out; the caller runs time. `request` must outlive it.
  void Start(herald::v1::DispatchRequest&&, Result*) = delete;
  void Start(const herald::v1::DispatchRequest& request, Result* result,
             absl::Duration deadline = absl::Seconds(10)) {
    StartFanOut(apps_, env_, &request, &result->response, time_.Monotonic() + deadline,
                [result] { ++result->done; });
  }
  Result Dispatch(const herald::v1::DispatchRequest& request,
                  absl::Duration deadline = absl::Seconds(10)) {
    Result result;
    Start(request, &result, deadline);
    time_.Run();
    EXPECT_EQ(result.done, 1);
    return result;
  }

  static const herald::v1::DeviceOutcome& Only(const Result& r) {
    EXPECT_EQ(r.response.outcomes_size(), 1);
    return r.response.outcomes(0);
  }

  ManualTime time_;
  RecentPushes recent_{1000, absl::Minutes(10)};
  LocalPushMemory memory_{&recent_, &time_};
  FanOutEnv env_;
  ScriptedProvider* provider_;
  std::shared_ptr<AppRegistry> apps_;
};

TEST_F(FanOutTest, DeliveredOnTheFirstAttempt) {
  Result r = Dispatch(Request({{"com.example.app", "k1"}}));
  EXPECT_EQ(Only(r).outcome(), herald::v1::OUTCOME_DELIVERED);
  EXPECT_EQ(Only(r).attempts(), 1);
  EXPECT_EQ(Only(r).pushkey(), "k1");
  EXPECT_EQ(Only(r).detail(), "pushed");
  EXPECT_EQ(r.response.rejected_size(), 0);
  EXPECT_TRUE(time_.waits().empty());
}

TEST_F(FanOutTest, RetriedWithDoublingBackoffUntilDelivered) {
  provider_->Script("k1", {Outcome::Retry("503"), Outcome::Retry("503")});
  Result r = Dispatch(Request({{"com.example.app", "k1"}}));
  EXPECT_EQ(Only(r).outcome(), herald::v1::OUTCOME_DELIVERED);
  EXPECT_EQ(Only(r).attempts(), 3);
  EXPECT_EQ(time_.waits(),
            (std::vector<absl::Duration>{absl::Milliseconds(250), absl::Milliseconds(500)}));
  ASSERT_EQ(provider_->calls.size(), 3u);
  EXPECT_EQ(provider_->calls[2].attempt, 3);
}

TEST_F(FanOutTest, GivesUpAfterMaxAttempts) {
  provider_->Script("k1", std::vector<Outcome>(4, Outcome::Retry("timeout")));
  Result r = Dispatch(Request({{"com.example.app", "k1"}}));
  EXPECT_EQ(Only(r).outcome(), herald::v1::OUTCOME_RETRY);
  EXPECT_EQ(Only(r).attempts(), 4);
  EXPECT_EQ(Only(r).detail(), "timeout");
  EXPECT_EQ(time_.waits(),
            (std::vector<absl::Duration>{absl::Milliseconds(250), absl::Milliseconds(500),
                                         absl::Milliseconds(1000)}));
}

TEST_F(FanOutTest, JitterScalesEachBackoff) {
  env_.policy.jitter = [] { return 1.5; };
  provider_->Script("k1", {Outcome::Retry("503")});
  Dispatch(Request({{"com.example.app", "k1"}}));
  EXPECT_EQ(time_.waits(), std::vector<absl::Duration>{absl::Milliseconds(375)});
}

TEST_F(FanOutTest, AProvidersRetryAfterIsWaitedOutWhenLonger) {
  provider_->Script("k1", {Outcome::Retry("429", absl::Seconds(2))});
  Result r = Dispatch(Request({{"com.example.app", "k1"}}));
  EXPECT_EQ(Only(r).outcome(), herald::v1::OUTCOME_DELIVERED);
  EXPECT_EQ(time_.waits(), std::vector<absl::Duration>{absl::Seconds(2)});
}

TEST_F(FanOutTest, NoRetryThatCannotFinishBeforeTheDeadline) {
  provider_->Script("k1", {Outcome::Retry("429", absl::Seconds(5))});
  Result r = Dispatch(Request({{"com.example.app", "k1"}}), absl::Seconds(3));
  EXPECT_EQ(Only(r).outcome(), herald::v1::OUTCOME_RETRY);
  EXPECT_EQ(Only(r).attempts(), 1);
  EXPECT_EQ(Only(r).retry_after_ms(), 5000);  // passed on to the homeserver
  EXPECT_TRUE(time_.waits().empty());
  // Each attempt is told the deadline.
  ASSERT_EQ(provider_->calls.size(), 1u);
  EXPECT_EQ(provider_->calls[0].deadline, time_.Monotonic() + absl::Seconds(3));
}

TEST_F(FanOutTest, ABackoffEndingTooCloseToTheDeadlineIsNotWaited) {
  // 250 ms of backoff would leave less than 50 ms for the attempt.
  provider_->Script("k1", {Outcome::Retry("503")});
  Result r = Dispatch(Request({{"com.example.app", "k1"}}), absl::Milliseconds(290));
  EXPECT_EQ(Only(r).outcome(), herald::v1::OUTCOME_RETRY);
  EXPECT_TRUE(time_.waits().empty());
}

TEST_F(FanOutTest, FinalOutcomesAreNotRetried) {
  provider_->Script("gone", {Outcome::Rejected("410")});
  provider_->Script("big", {Outcome::Dropped("413")});
  provider_->Script("cred", {Outcome::Failed("403")});
  provider_->Script("quiet", {Outcome::Skipped("nothing to show")});
  Result r = Dispatch(Request({{"com.example.app", "gone"},
                               {"com.example.app", "big"},
                               {"com.example.app", "cred"},
                               {"com.example.app", "quiet"}}));
  ASSERT_EQ(r.response.outcomes_size(), 4);
  EXPECT_EQ(r.response.outcomes(0).outcome(), herald::v1::OUTCOME_REJECTED);
  EXPECT_EQ(r.response.outcomes(1).outcome(), herald::v1::OUTCOME_DROPPED);
  EXPECT_EQ(r.response.outcomes(2).outcome(), herald::v1::OUTCOME_FAILED);
  EXPECT_EQ(r.response.outcomes(3).outcome(), herald::v1::OUTCOME_SKIPPED);
  EXPECT_EQ(provider_->calls.size(), 4u);
  EXPECT_EQ(std::vector<std::string>(r.response.rejected().begin(), r.response.rejected().end()),
            std::vector<std::string>{"gone"});
}

TEST_F(FanOutTest, UnknownAppsAreRejectedWithoutACall) {
  Result r = Dispatch(Request({{"org.other.app", "k1"}, {"com.example.app", "k2"}}));
  ASSERT_EQ(r.response.outcomes_size(), 2);
  EXPECT_EQ(r.response.outcomes(0).outcome(), herald::v1::OUTCOME_REJECTED);
  EXPECT_EQ(r.response.outcomes(0).attempts(), 0);
  EXPECT_EQ(r.response.outcomes(1).outcome(), herald::v1::OUTCOME_DELIVERED);
  ASSERT_EQ(provider_->calls.size(), 1u);
  EXPECT_EQ(provider_->calls[0].pushkey, "k2");
}

TEST_F(FanOutTest, APushkeyRejectedTwiceIsListedOnce) {
  provider_->Script("dead", {Outcome::Rejected("410"), Outcome::Rejected("410")});
  Result r = Dispatch(Request({{"com.example.a", "dead"}, {"com.example.b", "dead"}}));
  EXPECT_EQ(r.response.rejected_size(), 1);
}

TEST_F(FanOutTest, TheInFlightLimitShedsWhatIsBeyondIt) {
  provider_->Hold();
  auto request =
      Request({{"com.example.app", "a"}, {"com.example.app", "b"}, {"com.example.app", "c"}});
  Result first;
  Start(request, &first);
  time_.Run();
  EXPECT_EQ(first.done, 0);  // a and b wait on the provider (limit 2)
  EXPECT_EQ(provider_->calls.size(), 2u);
  provider_->Release();
  ASSERT_EQ(first.done, 1);
  EXPECT_EQ(first.response.outcomes(0).outcome(), herald::v1::OUTCOME_DELIVERED);
  EXPECT_EQ(first.response.outcomes(1).outcome(), herald::v1::OUTCOME_DELIVERED);
  EXPECT_EQ(first.response.outcomes(2).outcome(), herald::v1::OUTCOME_LIMITED);
  EXPECT_EQ(first.response.outcomes(2).retry_after_ms(), 2000);
  EXPECT_EQ(first.response.outcomes(2).attempts(), 0);
  // The slots are free again.
  Result next = Dispatch(Request({{"com.example.app", "c"}}, "$next"));
  EXPECT_EQ(Only(next).outcome(), herald::v1::OUTCOME_DELIVERED);
}

TEST_F(FanOutTest, PushMemoryAnswersARepeatedNotificationWithoutPushing) {
  provider_->Script("gone", {Outcome::Rejected("410")});
  provider_->Script("big", {Outcome::Dropped("413")});
  provider_->Script("quiet", {Outcome::Skipped("nothing to show")});
  auto request = Request({{"com.example.app", "ok"},
                          {"com.example.app", "gone"},
                          {"com.example.app", "big"},
                          {"com.example.app", "quiet"}});
  Dispatch(request);
  ASSERT_EQ(provider_->calls.size(), 4u);
  Result again = Dispatch(request);
  EXPECT_EQ(provider_->calls.size(), 4u);  // nothing pushed twice
  ASSERT_EQ(again.response.outcomes_size(), 4);
  EXPECT_EQ(again.response.outcomes(0).outcome(), herald::v1::OUTCOME_DELIVERED);
  EXPECT_EQ(again.response.outcomes(0).detail(), "already pushed for this event; not pushed again");
  EXPECT_EQ(again.response.outcomes(1).outcome(), herald::v1::OUTCOME_REJECTED);
  EXPECT_EQ(again.response.rejected_size(), 1);
  EXPECT_EQ(again.response.outcomes(2).outcome(), herald::v1::OUTCOME_DROPPED);
  EXPECT_EQ(again.response.outcomes(3).outcome(), herald::v1::OUTCOME_DELIVERED);
  // Another event to the same devices is pushed.
  Dispatch(Request({{"com.example.app", "ok"}}, "$other"));
  EXPECT_EQ(provider_->calls.size(), 5u);
}

// A shared memory answers later, on its own thread; one that could not
// answer (Redis down) answers nothing, and every device is pushed.
class LaterMemory final : public PushMemory {
 public:
  void Claim(std::vector<Key> keys, absl::Time, Claimed done) override {
    asked.push_back(keys.size());
    waiting = std::move(done);
  }
  void End(const Key&, std::optional<State> state) override { ended.push_back(state); }
  std::vector<size_t> asked;
  Claimed waiting;
  std::vector<std::optional<State>> ended;
};

TEST_F(FanOutTest, TheMemoryIsAskedOnceForAllDevicesAndNothingIsPushedBeforeItAnswers) {
  LaterMemory memory;
  env_.memory = &memory;
  auto request = Request({{"com.example.app", "new"},
                          {"com.example.app", "known"},
                          {"org.other.app", "x"},
                          {"com.example.app", "busy"}});
  Result result;
  Start(request, &result);
  time_.Run();
  ASSERT_EQ(memory.asked, std::vector<size_t>{3});  // one question; the unroutable one not asked
  EXPECT_TRUE(provider_->calls.empty());
  EXPECT_EQ(result.done, 0);
  memory.waiting({std::nullopt, PushMemory::State::kDelivered, PushMemory::State::kInFlight});
  time_.Run();
  ASSERT_EQ(result.done, 1);
  ASSERT_EQ(provider_->calls.size(), 1u);  // only the claimed one
  EXPECT_EQ(result.response.outcomes(0).outcome(), herald::v1::OUTCOME_DELIVERED);
  EXPECT_EQ(result.response.outcomes(1).reason(), herald::v1::REASON_DUPLICATE);
  EXPECT_EQ(result.response.outcomes(2).outcome(), herald::v1::OUTCOME_REJECTED);
  EXPECT_EQ(result.response.outcomes(3).outcome(), herald::v1::OUTCOME_RETRY);
  EXPECT_EQ(memory.ended,
            (std::vector<std::optional<PushMemory::State>>{PushMemory::State::kDelivered}));
}

TEST_F(FanOutTest, AMemoryThatCannotAnswerLetsEveryDeviceBePushed) {
  LaterMemory memory;
  env_.memory = &memory;
  auto request = Request({{"com.example.app", "a"}, {"com.example.app", "b"}});
  Result result;
  Start(request, &result);
  time_.Run();
  memory.waiting({});  // fail open
  time_.Run();
  ASSERT_EQ(result.done, 1);
  EXPECT_EQ(provider_->calls.size(), 2u);
  EXPECT_EQ(result.response.outcomes(0).outcome(), herald::v1::OUTCOME_DELIVERED);
  EXPECT_EQ(result.response.outcomes(1).outcome(), herald::v1::OUTCOME_DELIVERED);
  EXPECT_TRUE(memory.ended.empty());  // nothing claimed, nothing to record
}

TEST_F(FanOutTest, PushMemoryForgetsFailuresSoThatRetriesPush) {
  provider_->Script("k1", {Outcome::Failed("403")});
  provider_->Script("k2", std::vector<Outcome>(4, Outcome::Retry("503")));
  auto request = Request({{"com.example.app", "k1"}, {"com.example.app", "k2"}});
  Dispatch(request);
  const size_t first = provider_->calls.size();
  EXPECT_EQ(first, 5u);  // k1 once, k2 four times
  Result again = Dispatch(request);
  EXPECT_EQ(provider_->calls.size(), first + 2);
  EXPECT_EQ(again.response.outcomes(0).outcome(), herald::v1::OUTCOME_DELIVERED);
  EXPECT_EQ(again.response.outcomes(1).outcome(), herald::v1::OUTCOME_DELIVERED);
}

TEST_F(FanOutTest, PushMemoryAnswersAPushInFlightElsewhereWithRetry) {
  provider_->Hold();
  auto request = Request({{"com.example.app", "k1"}});
  Result first;
  Start(request, &first);
  time_.Run();
  Result second = Dispatch(request);  // while the first is still out
  EXPECT_EQ(Only(second).outcome(), herald::v1::OUTCOME_RETRY);
  EXPECT_EQ(Only(second).detail(), "the same push is in flight");
  EXPECT_EQ(provider_->calls.size(), 1u);
  provider_->Release();
  EXPECT_EQ(first.done, 1);
  EXPECT_EQ(Only(first).outcome(), herald::v1::OUTCOME_DELIVERED);
}

TEST_F(FanOutTest, PushMemoryRemembersForItsTtlOnly) {
  auto request = Request({{"com.example.app", "k1"}});
  Dispatch(request);
  time_.Advance(absl::Minutes(11));  // the TTL is 10 minutes
  Dispatch(request);
  EXPECT_EQ(provider_->calls.size(), 2u);
}

// Deadlines, backoff and the push memory's TTL are on the monotonic clock: a
// step of the system clock neither expires nor extends anything.
TEST_F(FanOutTest, AWallClockStepMovesNoDeadlineBackoffOrMemory) {
  auto request = Request({{"com.example.app", "k1"}});
  provider_->Script("k1", {Outcome::Retry("503")});
  time_.StepWallClock(absl::Hours(-1));
  Result r = Dispatch(request, absl::Seconds(3));
  EXPECT_EQ(Only(r).outcome(), herald::v1::OUTCOME_DELIVERED);
  EXPECT_EQ(time_.waits(), std::vector<absl::Duration>{absl::Milliseconds(250)});
  ASSERT_EQ(provider_->calls.size(), 2u);
  EXPECT_EQ(provider_->calls[0].deadline,
            time_.Monotonic() - absl::Milliseconds(250) + absl::Seconds(3));
  // A day forward on the wall, a minute on the monotonic clock: remembered.
  time_.StepWallClock(absl::Hours(24));
  time_.Advance(absl::Minutes(1));
  Dispatch(request);
  EXPECT_EQ(provider_->calls.size(), 2u);
}

TEST_F(FanOutTest, WithoutAnEventIdNothingIsRemembered) {
  auto badge = Request({{"com.example.app", "k1"}}, /*event_id=*/"");
  Dispatch(badge);
  Dispatch(badge);
  EXPECT_EQ(provider_->calls.size(), 2u);
}

TEST_F(FanOutTest, TheSameDeviceTwiceInOneRequestIsPushedTwice) {
  Result r = Dispatch(Request({{"com.example.app", "k1"}, {"com.example.app", "k1"}}));
  EXPECT_EQ(provider_->calls.size(), 2u);
  EXPECT_EQ(r.response.outcomes(0).outcome(), herald::v1::OUTCOME_DELIVERED);
  EXPECT_EQ(r.response.outcomes(1).outcome(), herald::v1::OUTCOME_DELIVERED);
}

TEST_F(FanOutTest, WithoutPushMemoryEveryRepeatIsPushed) {
  env_.memory = nullptr;
  auto request = Request({{"com.example.app", "k1"}});
  Dispatch(request);
  Dispatch(request);
  EXPECT_EQ(provider_->calls.size(), 2u);
}

TEST_F(FanOutTest, PushesRunOnTheExecutorNotTheCallersThread) {
  auto request = Request({{"com.example.app", "k1"}});
  Result r;
  Start(request, &r);
  EXPECT_TRUE(provider_->calls.empty());  // posted, not run inline
  time_.Run();
  EXPECT_EQ(provider_->calls.size(), 1u);
  EXPECT_EQ(r.done, 1);
}

TEST_F(FanOutTest, NoDevicesIsAnsweredAtOnce) {
  auto request = Request({});
  Result r;
  Start(request, &r);
  EXPECT_EQ(r.done, 1);
  EXPECT_EQ(r.response.outcomes_size(), 0);
}

// The caller may free the request and the answer as soon as on_done runs
// (the gRPC reactor does): nothing may read them after (ASan checks).
TEST_F(FanOutTest, NothingIsReadAfterOnDone) {
  provider_->Hold();
  auto request = std::make_unique<herald::v1::DispatchRequest>(
      Request({{"com.example.app", "a"}, {"com.example.app", "b"}, {"org.unknown", "c"}}));
  auto response = std::make_unique<herald::v1::DispatchResponse>();
  int done = 0;
  int outcomes = 0;
  StartFanOut(apps_, env_, request.get(), response.get(), time_.Monotonic() + absl::Seconds(10),
              [&] {
                ++done;
                outcomes = response->outcomes_size();
                request.reset();
                response.reset();
              });
  time_.Run();
  provider_->Release();
  time_.Run();
  EXPECT_EQ(done, 1);
  EXPECT_EQ(outcomes, 3);
}

TEST_F(FanOutTest, EachOutcomeSaysWhyInAMachineReadableReason) {
  provider_->Script("dead", {Outcome::Rejected("410")});
  provider_->Script("late", {Outcome::Retry("429", absl::Seconds(60))});
  Result r = Dispatch(Request({{"com.example.app", "ok"},
                               {"com.example.app", "dead"},
                               {"org.unknown", "x"},
                               {"com.example.app", "late"}}));
  ASSERT_EQ(r.response.outcomes_size(), 4);
  EXPECT_EQ(r.response.outcomes(0).reason(), herald::v1::REASON_PUSHED);
  EXPECT_EQ(r.response.outcomes(1).reason(), herald::v1::REASON_TOKEN_DEAD);
  EXPECT_EQ(r.response.outcomes(2).reason(), herald::v1::REASON_UNROUTABLE);
  EXPECT_EQ(r.response.outcomes(3).reason(), herald::v1::REASON_PROVIDER_UNAVAILABLE);
  // Asked again: answered from memory.
  Result again = Dispatch(Request({{"com.example.app", "ok"}, {"com.example.app", "dead"}}));
  EXPECT_EQ(again.response.outcomes(0).reason(), herald::v1::REASON_DUPLICATE);
  EXPECT_EQ(again.response.outcomes(1).reason(), herald::v1::REASON_DUPLICATE);
  // Beyond the in-flight limit (2): shed.
  provider_->Hold();
  auto busy = Request(
      {{"com.example.app", "a"}, {"com.example.app", "b"}, {"com.example.app", "c"}}, "$busy");
  Result shed;
  Start(busy, &shed);
  time_.Run();
  provider_->Release();
  ASSERT_EQ(shed.done, 1);
  EXPECT_EQ(shed.response.outcomes(2).reason(), herald::v1::REASON_SHED);
}

}  // namespace
}  // namespace herald::dispatcher
