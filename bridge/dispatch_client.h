// The bridge's side of herald.v1.Dispatcher/DispatchStream. Every address
// dispatcher.target stands for gets a channel of its own and a few
// long-lived streams on it; each notification goes on a stream of the next
// connected dispatcher in turn. The target is resolved again every
// `resolve_interval`, so a dispatcher added behind the name takes traffic
// within that, and streams are replaced after `stream_max_age`, so that
// traffic follows a dispatcher that restarted or a connection the
// dispatcher asked to move (max_connection_age).
//
// One write is in flight per stream; requests arriving meanwhile are
// gathered into the next message, so under load many notifications share
// one message and its costs (an HTTP/2 frame, a syscall, a thread wake-up)
// instead of one unary call each. Answers come back independently, as soon
// as each notification is done.
//
// Threads: Dispatch() and Ready() from any thread (the bridge's I/O
// threads); the streams' reads, writes and `done` callbacks on gRPC's
// callback threads; resolution and reconnection on a thread of the client's
// own; the destructor on the thread that stops the bridge.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/dispatcher_target.h"
#include "grpcpp/grpcpp.h"
#include "proto/herald/v1/herald.grpc.pb.h"

namespace herald::bridge {

class DispatchClient {
 public:
  // `response` is null unless `status` is OK; it is valid during the call only.
  using Callback =
      std::function<void(const grpc::Status& status, herald::v1::DispatchResponse* response)>;
  // A channel to one dispatcher address (a per-address target from
  // ResolveDispatcherTarget), with the credentials and arguments main chose.
  using ChannelFactory =
      std::function<std::shared_ptr<grpc::Channel>(const std::string& address_target)>;

  struct Options {
    DispatcherTarget target;
    int streams_per_dispatcher = 2;
    absl::Duration resolve_interval = absl::Seconds(10);
    absl::Duration stream_max_age = absl::Seconds(60);
    // What the target stands for now (a test's resolver instead of DNS).
    std::function<absl::StatusOr<std::vector<std::string>>(const DispatcherTarget&)> resolve =
        ResolveDispatcherTarget;
    // How often unconnected channels are asked to connect, and the
    // resolution checked for being due.
    absl::Duration tick = absl::Seconds(1);
  };

  // Resolves the target once before returning (a failure is logged and
  // tried again every second).
  DispatchClient(Options options, ChannelFactory make_channel);
  // Cancels every stream and returns once each has ended and its callbacks
  // have run (gRPC ends a cancelled call promptly).
  ~DispatchClient();

  // `request.request_id` must be unique among requests in flight. `done` runs
  // exactly once, on a gRPC thread or the caller's: with the answer; with
  // herald::v1::NotStartedStatus() when the notification surely did not
  // reach a dispatcher (a draining one refused it, or its stream broke
  // before it was written), so the caller may send it again; or with
  // UNAVAILABLE when the stream broke after it was sent.
  void Dispatch(herald::v1::DispatchRequest request, Callback done);

  // A connection to at least one dispatcher is up (asking also starts
  // connecting those that are not).
  bool Ready();

  // The per-address targets in use now, sorted.
  std::vector<std::string> Addresses();

 private:
  class Stream;
  struct Backend;
  struct Live;

  std::shared_ptr<Stream> PickStream();
  void Run();  // the resolver thread
  void Apply(std::vector<std::string> addresses) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  const ChannelFactory make_channel_;
  // Every stream not yet done (OnDone), the retired ones too, shared with
  // them: the destructor cancels them all and waits for zero, so that no
  // stream and no callback outlives the client (and what the callbacks post
  // into).
  std::shared_ptr<Live> live_;
  absl::Mutex mu_;
  std::vector<std::shared_ptr<Backend>> backends_ ABSL_GUARDED_BY(mu_);  // by address
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 0;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  std::thread resolver_;
};

}  // namespace herald::bridge
