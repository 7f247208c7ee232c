// herald.v1.Dispatcher: fans the devices of one notification out to their
// providers in parallel, retries transient failures with backoff and jitter
// inside the request's deadline, and answers with per-device outcomes.
#pragma once

#include <memory>

#include "common/config.h"
#include "common/timer_queue.h"
#include "dispatcher/app_registry.h"
#include "proto/herald/v1/herald.grpc.pb.h"

namespace herald::dispatcher {

struct RetryPolicy {
  absl::Duration deadline = absl::Seconds(10);  // cap when the caller sets none
  absl::Duration initial_backoff = absl::Milliseconds(250);
  int max_attempts = 4;
};

// Empty when the request is usable; otherwise what is wrong with it.
std::string ValidateRequest(const herald::v1::DispatchRequest& request);

class DispatcherService final : public herald::v1::Dispatcher::CallbackService {
 public:
  DispatcherService(std::shared_ptr<const AppRegistry> apps, RetryPolicy policy,
                    TimerQueue* timers);

  grpc::ServerUnaryReactor* Dispatch(grpc::CallbackServerContext* context,
                                     const herald::v1::DispatchRequest* request,
                                     herald::v1::DispatchResponse* response) override;
  grpc::ServerBidiReactor<herald::v1::DispatchBatch, herald::v1::DispatchResults>*
  DispatchStream(grpc::CallbackServerContext* context) override;

  // Pushes `request` to its devices; fills `response` and calls `on_done`
  // once every device has an outcome. Both pointers outlive the call.
  void Start(const herald::v1::DispatchRequest* request, herald::v1::DispatchResponse* response,
             absl::Time deadline, std::function<void()> on_done);
  // When to stop trying: the configured deadline, the request's timeout_ms
  // and the caller's deadline, less a margin to send the answer.
  absl::Time DeadlineFor(const herald::v1::DispatchRequest& request,
                         absl::Time caller_deadline) const;

 private:
  std::shared_ptr<const AppRegistry> apps_;
  RetryPolicy policy_;
  TimerQueue* timers_;
};

}  // namespace herald::dispatcher
