// The bridge's HTTP/1.1 front door (Boost.Beast): a few I/O threads, async
// keep-alive sessions, no thread per connection. Notify requests become
// asynchronous gRPC calls to the dispatcher.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "common/config.h"
#include "proto/herald/v1/herald.grpc.pb.h"

namespace herald::bridge {

class HttpServer {
 public:
  // `dispatcher_ready` says whether a connection to a dispatcher is up (for
  // GET /ready); it is called on the I/O threads and must be quick.
  HttpServer(const Config& config, std::shared_ptr<herald::v1::Dispatcher::Stub> stub,
             std::function<bool()> dispatcher_ready);
  ~HttpServer();

  // Binds every address and starts the I/O threads.
  absl::Status Start();
  // The port listened on (useful with http.port: 0). Valid after Start().
  int port() const;
  // Stops accepting, waits up to `drain` for in-flight requests, then stops.
  void Stop(absl::Duration drain);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace herald::bridge
