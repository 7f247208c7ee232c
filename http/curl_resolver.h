// Internal to CurlHttpClient: the check of a proxied request's destination.
//
// Behind a proxy, the destination host of a request that refuses private
// addresses is resolved here and checked before the request goes to a loop
// (getaddrinfo blocks, so not on a loop thread), and the tunnel is pinned to
// the public address checked (CONNECT_TO), so the proxy's own lookup cannot
// be steered elsewhere. A few threads, so that one host with slow DNS does
// not hold up the others; verdicts are kept for a short while (endpoints are
// few hosts, pushes are many). Started on first use: apps that never refuse
// private addresses (APNs, FCM) never start them.
//
// Threads: Check() and Stop() from any thread; lookups, refusals and the
// hand-over to a loop (CurlHttpClient::SendToLoop) on the resolver's threads.
#pragma once

#include <deque>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "http/curl_http_client.h"

namespace herald::http {

class CurlHttpClient::Resolver {
 public:
  explicit Resolver(CurlHttpClient* client) : client_(client) {}
  ~Resolver() { Stop(); }

  // Ends the threads; what is queued, and whatever comes later, is answered
  // kShutdown.
  void Stop();

  void Check(HttpRequest request, Callback done, SentAt sent);

 private:
  struct Job {
    HttpRequest request;
    Callback done;
    SentAt sent;
    absl::Time queued;  // monotonic
  };
  struct Verdict {
    bool resolved = false;
    std::string public_ip;   // the first public address; empty when none
    std::string private_ip;  // the first private one, for the log
    absl::Time until;        // monotonic
  };
  static constexpr int kThreads = 4;
  static constexpr absl::Duration kKeep = absl::Seconds(30);
  static constexpr absl::Duration kKeepFailure = absl::Seconds(2);

  static void Answer(Job& job, TransportError error, std::string detail);
  void Run();
  void Decide(Job job);
  bool Stopping();
  Verdict Lookup(const std::string& host);

  CurlHttpClient* client_;
  absl::Mutex mu_;
  std::deque<Job> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  absl::Mutex cache_mu_;
  std::unordered_map<std::string, Verdict> cache_ ABSL_GUARDED_BY(cache_mu_);
};

}  // namespace herald::http
