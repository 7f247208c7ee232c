// The HTTP client: libcurl's multi interface driven by event-loop threads
// (epoll + curl_multi_socket_action), each with its own connections.
// HTTP/2 multiplexing where the server offers it, connection reuse, TLS with
// an optional CA file, a timeout on every request. Send() never blocks on
// the network; completions run on the loop thread.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "absl/strings/string_view.h"
#include "http/http_client.h"

namespace herald::http {

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(const HttpClientOptions& options = {});
  ~CurlHttpClient() override;  // Fails pending requests with kShutdown, joins the loops.
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  // Queues the request; `done` runs exactly once, on a loop thread (or on
  // the calling thread if the client is already shutting down, or on the
  // resolver thread when a proxied destination is refused).
  void Send(HttpRequest request, Callback done) override;

 private:
  class Loop;
  class Resolver;
  using SentAt = std::chrono::steady_clock::time_point;  // when Send() took it
  void SendToLoop(HttpRequest request, Callback done, SentAt sent);

  const bool proxied_;
  std::vector<std::unique_ptr<Loop>> loops_;
  std::unique_ptr<Resolver> resolver_;  // only with a proxy; outlives loops_
};

}  // namespace herald::http
