// Under --config=tsan only (linked into every binary and test by
// --custom_malloc, see .bazelrc).
//
// Debian's Abseil is not built with ThreadSanitizer, so TSan cannot see that
// absl::Mutex (and what is built on it: Notification, BlockingCounter,
// Barrier, and gRPC's own locks, which are Abseil's in Debian's gRPC) orders
// memory: every access one guards looks like a race. This file interposes
// those exported functions of libabsl_synchronization.so, calls the real
// ones, and tells TSan what they did: a release before a lock may be given
// up, an acquire once it is held. The locking itself stays Abseil's.
//
// It also holds the suppressions (__tsan_default_suppressions).
//
// The symbol names are Debian 12's (Abseil's inline namespace "debian3");
// a missing one aborts at its first use, naming it.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/barrier.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace {

// The library's own definition of a function this file also defines
// (Itanium ABI: a member function takes `this` first).
template <typename Fn>
Fn Real(const char* mangled) {
  void* fn = dlsym(RTLD_NEXT, mangled);
  if (fn == nullptr) {
    std::fprintf(stderr, "tsan_absl_sync: %s not found\n", mangled);
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

void Acquire(const void* addr) { __tsan_acquire(const_cast<void*>(addr)); }
void Release(const void* addr) { __tsan_release(const_cast<void*>(addr)); }

// A Notification's flag, after its mutex.
static_assert(sizeof(absl::Notification) == 2 * sizeof(absl::Mutex));
const void* Flag(const absl::Notification* n) {
  return reinterpret_cast<const char*>(n) + sizeof(absl::Mutex);
}

// A Condition that tells TSan the truth about its evaluation: Abseil runs
// it with the mutex held, on the waiting thread or on whichever thread is
// unlocking, and gives the lock up and takes it again inside the call
// where no wrapper sees it. Acquire and release around each evaluation.
class VisibleCondition {
 public:
  VisibleCondition(const absl::Condition& cond, absl::Mutex* mu) : cond_(cond), mu_(mu) {}
  absl::Condition get() { return absl::Condition(&VisibleCondition::Eval, this); }

 private:
  static bool Eval(VisibleCondition* self) {
    Acquire(self->mu_);
    const bool met = self->cond_.Eval();
    Release(self->mu_);
    return met;
  }
  const absl::Condition& cond_;
  absl::Mutex* mu_;
};

}  // namespace

#define HERALD_NS "_ZN4absl7debian3"
#define HERALD_CNS "_ZNK4absl7debian3"

namespace absl {
ABSL_NAMESPACE_BEGIN

// Taking a lock: an acquire once held.
void Mutex::Lock() {
  static auto real = Real<void (*)(Mutex*)>(HERALD_NS "5Mutex4LockEv");
  real(this);
  Acquire(this);
}
void Mutex::ReaderLock() {
  static auto real = Real<void (*)(Mutex*)>(HERALD_NS "5Mutex10ReaderLockEv");
  real(this);
  Acquire(this);
}
bool Mutex::TryLock() {
  static auto real = Real<bool (*)(Mutex*)>(HERALD_NS "5Mutex7TryLockEv");
  const bool held = real(this);
  if (held) Acquire(this);
  return held;
}
bool Mutex::ReaderTryLock() {
  static auto real = Real<bool (*)(Mutex*)>(HERALD_NS "5Mutex13ReaderTryLockEv");
  const bool held = real(this);
  if (held) Acquire(this);
  return held;
}
void Mutex::LockWhen(const Condition& cond) {
  static auto real =
      Real<void (*)(Mutex*, const Condition&)>(HERALD_NS "5Mutex8LockWhenERKNS0_9ConditionE");
  VisibleCondition visible(cond, this);
  real(this, visible.get());
  Acquire(this);
}
void Mutex::ReaderLockWhen(const Condition& cond) {
  static auto real = Real<void (*)(Mutex*, const Condition&)>(
      HERALD_NS "5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  VisibleCondition visible(cond, this);
  real(this, visible.get());
  Acquire(this);
}
bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  static auto real = Real<bool (*)(Mutex*, const Condition&, Duration)>(
      HERALD_NS "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  VisibleCondition visible(cond, this);
  const bool met = real(this, visible.get(), timeout);
  Acquire(this);  // held either way
  return met;
}
bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  static auto real = Real<bool (*)(Mutex*, const Condition&, Time)>(
      HERALD_NS "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  VisibleCondition visible(cond, this);
  const bool met = real(this, visible.get(), deadline);
  Acquire(this);
  return met;
}

// Giving a lock up: a release first.
void Mutex::Unlock() {
  static auto real = Real<void (*)(Mutex*)>(HERALD_NS "5Mutex6UnlockEv");
  Release(this);
  real(this);
}
void Mutex::ReaderUnlock() {
  static auto real = Real<void (*)(Mutex*)>(HERALD_NS "5Mutex12ReaderUnlockEv");
  Release(this);
  real(this);
}

// Waiting gives the lock up and takes it again.
void Mutex::Await(const Condition& cond) {
  static auto real =
      Real<void (*)(Mutex*, const Condition&)>(HERALD_NS "5Mutex5AwaitERKNS0_9ConditionE");
  Release(this);
  VisibleCondition visible(cond, this);
  real(this, visible.get());
  Acquire(this);
}
bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  static auto real = Real<bool (*)(Mutex*, const Condition&, Duration)>(
      HERALD_NS "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Release(this);
  VisibleCondition visible(cond, this);
  const bool met = real(this, visible.get(), timeout);
  Acquire(this);
  return met;
}
bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  static auto real = Real<bool (*)(Mutex*, const Condition&, Time)>(
      HERALD_NS "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Release(this);
  VisibleCondition visible(cond, this);
  const bool met = real(this, visible.get(), deadline);
  Acquire(this);
  return met;
}
void CondVar::Wait(Mutex* mu) {
  static auto real = Real<void (*)(CondVar*, Mutex*)>(HERALD_NS "7CondVar4WaitEPNS0_5MutexE");
  Release(mu);
  real(this, mu);
  Acquire(mu);
}
bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  static auto real = Real<bool (*)(CondVar*, Mutex*, Duration)>(
      HERALD_NS "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  Release(mu);
  const bool timed_out = real(this, mu, timeout);
  Acquire(mu);
  return timed_out;
}
bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  static auto real = Real<bool (*)(CondVar*, Mutex*, Time)>(
      HERALD_NS "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  Release(mu);
  const bool timed_out = real(this, mu, deadline);
  Acquire(mu);
  return timed_out;
}

// Notification: Notify() releases its flag (the inline HasBeenNotified()
// reads it with an acquire TSan sees, as TSan keys both by address); a wait
// that returns notified acquires it.
void Notification::Notify() {
  static auto real = Real<void (*)(Notification*)>(HERALD_NS "12Notification6NotifyEv");
  Release(Flag(this));
  real(this);
}
void Notification::WaitForNotification() const {
  static auto real =
      Real<void (*)(const Notification*)>(HERALD_CNS "12Notification19WaitForNotificationEv");
  real(this);
  Acquire(Flag(this));
}
bool Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  static auto real = Real<bool (*)(const Notification*, Duration)>(
      HERALD_CNS "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  const bool notified = real(this, timeout);
  if (notified) Acquire(Flag(this));
  return notified;
}
bool Notification::WaitForNotificationWithDeadline(Time deadline) const {
  static auto real = Real<bool (*)(const Notification*, Time)>(
      HERALD_CNS "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
  const bool notified = real(this, deadline);
  if (notified) Acquire(Flag(this));
  return notified;
}

// BlockingCounter and Barrier: each arrival releases, the waiter acquires.
bool BlockingCounter::DecrementCount() {
  static auto real =
      Real<bool (*)(BlockingCounter*)>(HERALD_NS "15BlockingCounter14DecrementCountEv");
  Release(this);
  return real(this);
}
void BlockingCounter::Wait() {
  static auto real = Real<void (*)(BlockingCounter*)>(HERALD_NS "15BlockingCounter4WaitEv");
  real(this);
  Acquire(this);
}
bool Barrier::Block() {
  static auto real = Real<bool (*)(Barrier*)>(HERALD_NS "7Barrier5BlockEv");
  Release(this);
  const bool last = real(this);
  Acquire(this);
  return last;
}

ABSL_NAMESPACE_END
}  // namespace absl

// Debian's gRPC is not instrumented either: its own accesses are invisible
// to TSan, and it hands buffers and call objects between its threads through
// atomics TSan cannot see. So:
// - its calls into intercepted functions (memcpy, malloc, sendmsg, recvmsg,
//   epoll_wait...) are made invisible too (called_from_lib), and so are
//   Abseil's (its deadlock detector's bookkeeping);
// - a race is not reported when the innermost frame of one of its two
//   accesses (race_top) is gRPC's inline C++ (call op sets and callback
//   tags, from /usr/include/grpcpp) or one of the two std::function
//   specializations gRPC's tags and interceptors hold (ours use neither). This hides too a race
//   between our code and gRPC's inline code on the same memory; a race between two accesses of our
//   own, in callbacks gRPC runs or not, is still reported.
// NOLINTNEXTLINE(bugprone-reserved-identifier): the name TSan looks for.
extern "C" const char* __tsan_default_suppressions() {
  return "called_from_lib:libgrpc.so.29\n"
         "called_from_lib:libgpr.so.29\n"
         "called_from_lib:libgrpc++.so.1.51\n"
         "called_from_lib:libabsl_synchronization.so.20220623\n"
         "called_from_lib:libabsl_status.so.20220623\n"
         "race_top:/usr/include/grpcpp/\n"
         "race_top:grpc::internal::\n"
         "race_top:std::function<void (bool)>::\n"
         "race_top:std::function<grpc::Status (void const*)>::\n";
}

// Abseil's deadlock detector (on in builds without NDEBUG) keeps a graph of
// every lock in shared memory that it orders with its own uninstrumented
// spin lock: under TSan, every such update is a report. Off here.
namespace {
const bool kNoDeadlockDetection = [] {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return true;
}();
}  // namespace
