// A tiny HTTP/1.1 listener for the dispatcher's GET /metrics (Prometheus text)
// and GET /health, on its own thread.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"

namespace herald {

class MetricsHttpServer {
 public:
  MetricsHttpServer();
  ~MetricsHttpServer();
  // `address` is "host:port" (port 0 = any).
  absl::Status Start(const std::string& address);
  int port() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace herald
