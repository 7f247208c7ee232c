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

 private:
  std::shared_ptr<const AppRegistry> apps_;
  RetryPolicy policy_;
  TimerQueue* timers_;
};

}  // namespace herald::dispatcher
