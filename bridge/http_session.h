// One HTTP/1.1 connection to the bridge (a Session: keep-alive, pipelining,
// timeouts, the notify request → gRPC call → answer) and what the listener
// shares with every connection: the deadline list, the idle list, the count
// of notify requests in flight. Internal to the bridge; http_server.h is the
// bridge's HTTP front door.
//
// Threads: a session's work runs on its own strand of the server's
// io_context; dispatcher answers arrive on gRPC threads and are posted to that
// strand. The lists and the count are locked and may be used from any thread.
#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/dispatch_client.h"
#include "common/metrics.h"

namespace herald::bridge {

class Session;
struct Pending;

// Notify requests waiting for the dispatcher, oldest first. Every request
// gets the same deadline, so the oldest is always the next due: one list and
// one timer for the server instead of a timer per request (setting it,
// cancelling it and running its cancelled handler were ~6 % of the bridge).
class Deadlines {
 public:
  // Monotonic: a step of the wall clock must not time out every request.
  using Clock = std::chrono::steady_clock;
  struct Waiting {
    Clock::time_point due;
    std::shared_ptr<Session> session;
    std::shared_ptr<Pending> pending;
  };

  void Add(std::shared_ptr<Session> session, std::shared_ptr<Pending> pending,
           absl::Duration deadline);
  // Takes `pending` off the list if it is still on it.
  void Remove(Pending* pending);
  // Answers those due by `now` with the deadline's 504 (on their sessions'
  // strands).
  void TimeOutDue(Clock::time_point now);

 private:
  absl::Mutex mu_;
  std::list<Waiting> list_ ABSL_GUARDED_BY(mu_);
};

// Connections waiting for their next request (or their first), longest
// waiting first. When every connection allowed is open, the longest-idle is
// closed to make room for a newcomer: connections that only hold a slot give
// way to clients that come to send something, oldest first, whoever opened
// them.
class IdleSessions {
 public:
  using List = std::list<std::weak_ptr<Session>>;
  // A session's place on the list (guarded by the list's lock).
  struct Mark {
    List::iterator at;
    bool listed = false;
  };

  void Add(std::weak_ptr<Session> session, Mark* mark);
  void Remove(Mark* mark);
  // Takes the oldest still alive off the list (clearing its Mark); null
  // when there is none.
  std::shared_ptr<Session> TakeOldest();
  // Draining: closes every connection waiting for its next request (one
  // that has just begun a request is served and closed after its answer).
  void CloseAll();

 private:
  absl::Mutex mu_;
  List list_ ABSL_GUARDED_BY(mu_);
};

// Notify requests taken whose answer is not written yet: what a drain
// waits for. (The herald_notify_in_flight gauge drops a little earlier,
// when the answer is decided, so a client that has read its answer sees
// it gone.)
class NotifyCount {
 public:
  void Begin();
  void End();
  // Blocks until none is in flight, or `limit` passes. True when none is.
  bool WaitForNone(absl::Duration limit);

 private:
  absl::Mutex mu_;
  int64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

// What the listener shares with its sessions; outlives them all.
struct ServerShared {
  DispatchClient* client;
  Deadlines* deadlines;
  IdleSessions* idle;
  NotifyCount* notifies;
  // Set by Stop(): answers say "Connection: close" and sessions stop reading.
  std::atomic<bool> stopping{false};
  // Whether a connection to a dispatcher is up (GET /ready).
  std::function<bool()> dispatcher_ready;
  absl::Duration deadline;
  uint64_t max_body_bytes;
  // metrics.prometheus asks for /metrics on this (public) listener.
  bool metrics_on_notify_port = false;
  std::chrono::steady_clock::duration header_timeout;
  std::chrono::steady_clock::duration body_timeout;
  // Open connections (sessions alive: herald_http_connections) and the most
  // allowed.
  Gauge* connections = OpenConnections();
  int64_t max_connections = 10000;
  // log.access: a line per notify request; client address from
  // X-Forwarded-For.
  bool access_log = true;
  bool x_forwarded_for = false;
  // http.tls_cert_file: the listener speaks TLS with this; null = plain.
  boost::asio::ssl::context* tls = nullptr;

  static Gauge* OpenConnections();
};

// Serves `socket` (accepted on a strand of its own) until it closes. When
// the server is full, `evicted` is the idle connection picked to make room:
// it is closed if still idle, else the next idle one, else the newcomer.
void StartSession(boost::asio::ip::tcp::socket socket, const ServerShared* shared,
                  const std::shared_ptr<Session>& evicted);

}  // namespace herald::bridge
