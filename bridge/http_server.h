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
#include "bridge/dispatch_client.h"
#include "common/config.h"
#include "proto/herald/v1/herald.grpc.pb.h"

namespace herald::bridge {

class HttpServer {
 public:
  // Notifications go to the dispatchers through `client`; GET /ready asks it
  // whether one is connected.
  HttpServer(const Config& config, std::unique_ptr<DispatchClient> client);
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
