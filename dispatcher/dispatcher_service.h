// herald.v1.Dispatcher: fans the devices of one notification out to their
// providers in parallel, retries transient failures with backoff and jitter
// inside the request's deadline, and answers with per-device outcomes.
//
// Threads: gRPC's callback threads call Dispatch() and the stream reactors'
// OnReadDone(); each notification's pushes run on the fan-out's executor
// (the work pool), and its answer is written from whichever thread gave the
// last device outcome: a pool, HTTP loop or resolver thread, or the gRPC
// thread itself when no device needed a push (unroutable, or answered from
// the push memory). SetApps(), BeginDrain()
// and the drain's wait run on the dispatcher's main thread.
#pragma once

#include <atomic>
#include <memory>
#include <set>

#include "absl/synchronization/mutex.h"

#include "common/config.h"
#include "dispatcher/app_registry.h"
#include "dispatcher/fan_out.h"
#include "dispatcher/recent_pushes.h"
#include "proto/herald/v1/herald.grpc.pb.h"
#include "proto/herald/v1/protocol.h"

namespace herald::dispatcher {

// OK when the request is usable; otherwise InvalidArgument saying what is
// wrong with it.
absl::Status ValidateRequest(const herald::v1::DispatchRequest& request);

// A DispatchStream in progress, as the service sees it for draining.
class DrainableStream {
 public:
  virtual ~DrainableStream() = default;
  // Stop taking notifications; finish the stream once those taken are done.
  virtual void Drain() = 0;
};

class DispatcherService final : public herald::v1::Dispatcher::CallbackService {
 public:
  // Every notification fans out on `env` (fan_out.h), which outlives the service.
  DispatcherService(std::shared_ptr<const AppRegistry> apps, FanOutEnv env);

  grpc::ServerUnaryReactor* Dispatch(grpc::CallbackServerContext* context,
                                     const herald::v1::DispatchRequest* request,
                                     herald::v1::DispatchResponse* response) override;
  grpc::ServerBidiReactor<herald::v1::DispatchBatch, herald::v1::DispatchResults>* DispatchStream(
      grpc::CallbackServerContext* context) override;

  // Pushes `request` to its devices; fills `response` and calls `on_done`
  // once every device has an outcome. Both pointers outlive the call.
  void Start(const herald::v1::DispatchRequest* request, herald::v1::DispatchResponse* response,
             absl::Time deadline, std::function<void()> on_done);
  // Graceful shutdown: open streams stop taking notifications (answering
  // UNAVAILABLE with not_started, which callers may send elsewhere) and end
  // once the notifications they took are done.
  void BeginDrain();
  // Blocks until no stream is open, or `limit` passes; true when none is.
  // Streams opened meanwhile are answered not_started too, so a caller that
  // opened one just as the drain began learns of it from an answer, not a
  // refused call (with what it wrote already gone).
  bool WaitForStreamsToEnd(absl::Duration limit);
  bool draining() const { return draining_.load(); }
  void Register(DrainableStream* stream);
  void Unregister(DrainableStream* stream);

  // Config reload: notifications arriving from now on use `apps`; those in
  // flight finish with the registry they started with. Returns the old one.
  // Whatever copy goes last may go on an HTTP client's loop thread, so
  // registries are made by a RegistryReaper, which frees them elsewhere.
  std::shared_ptr<const AppRegistry> SetApps(std::shared_ptr<const AppRegistry> apps);

  // When to stop trying: the configured deadline, the request's timeout_ms
  // and the caller's deadline, less a margin to send the answer. Deadlines
  // are Clock::Monotonic() readings.
  absl::Time DeadlineFor(const herald::v1::DispatchRequest& request,
                         absl::Time caller_deadline) const;

 private:
  std::shared_ptr<const AppRegistry> Apps() const;

  mutable absl::Mutex apps_mu_;
  std::shared_ptr<const AppRegistry> apps_ ABSL_GUARDED_BY(apps_mu_);
  const FanOutEnv env_;
  std::atomic<bool> draining_{false};
  absl::Mutex streams_mu_;
  std::set<DrainableStream*> streams_ ABSL_GUARDED_BY(streams_mu_);
};

}  // namespace herald::dispatcher
