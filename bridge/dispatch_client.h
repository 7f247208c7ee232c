// The bridge's side of herald.v1.Dispatcher/DispatchStream: a few long-lived
// streams to the dispatcher(s) carry every notification. One write is in
// flight per stream; requests arriving meanwhile are gathered into the next
// message, so under load many notifications share one message and its costs
// (an HTTP/2 frame, a syscall, a thread wake-up) instead of one unary call
// each. Answers come back independently, as soon as each notification is done.
//
// Threads: Dispatch() from any thread (the bridge's I/O threads); the streams'
// reads, writes and `done` callbacks on gRPC's callback threads; the
// destructor on the thread that stops the bridge.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "proto/herald/v1/herald.grpc.pb.h"

namespace herald::bridge {

class DispatchClient {
 public:
  // `response` is null unless `status` is OK; it is valid during the call only.
  using Callback =
      std::function<void(const grpc::Status& status, herald::v1::DispatchResponse* response)>;

  DispatchClient(std::shared_ptr<herald::v1::Dispatcher::Stub> stub, int streams);
  // Cancels every stream and returns once each has ended and its callbacks
  // have run (gRPC ends a cancelled call promptly).
  ~DispatchClient();

  // `request.request_id` must be unique among requests in flight. `done` runs
  // exactly once, on a gRPC thread: with the answer, or with UNAVAILABLE when
  // the stream to the dispatcher broke first.
  void Dispatch(herald::v1::DispatchRequest request, Callback done);

 private:
  class Stream;
  std::shared_ptr<Stream> PickStream();

  // Every stream not yet done (OnDone), the retired ones too, shared with
  // them: the destructor cancels them all and waits for zero, so that no
  // stream and no callback outlives the client (and what the callbacks post
  // into).
  struct Live {
    absl::Mutex mu;
    int streams ABSL_GUARDED_BY(mu) = 0;
    // Those that may still be cancelled; a stream leaves before it may be
    // deleted.
    absl::flat_hash_set<Stream*> cancellable ABSL_GUARDED_BY(mu);
  };

  std::shared_ptr<herald::v1::Dispatcher::Stub> stub_;
  std::shared_ptr<Live> live_ = std::make_shared<Live>();
  absl::Mutex mu_;
  std::vector<std::shared_ptr<Stream>> streams_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> next_{0};
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace herald::bridge
