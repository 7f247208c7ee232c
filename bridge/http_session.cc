#include "bridge/http_session.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>
#include <random>
#include <type_traits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bridge/access_log.h"
#include "bridge/notify_answer.h"
#include "bridge/notify_json.h"
#include "common/executor.h"
#include "common/log.h"
#include "proto/herald/v1/protocol.h"

namespace herald::bridge {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr char kComponent[] = "bridge";
constexpr char kNotifyPath[] = "/_matrix/push/v1/notify";
constexpr auto kIdleTimeout = std::chrono::seconds(60);
constexpr size_t kFirstRead = 4096;

std::string NewRequestId() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return absl::StrFormat("%016x", rng());
}

struct Reply {
  http::status status = http::status::ok;
  std::string body;
  absl::string_view content_type = "application/json";  // always a literal
  std::vector<std::pair<std::string, std::string>> headers;
  bool close = false;
  // In herald_http_responses_total (notify answers, not /health or /metrics).
  bool counted = true;
  // An answer to HEAD: the headers a GET would get, and no body (one would
  // be read as the start of the next answer on the connection).
  bool head = false;
  // The answer to a notify request: NotifyCount ends once it is written.
  bool ends_notify = false;
  // The dispatcher's outcome counts, for the access log.
  AccessRecord outcomes;
};

Reply Json(http::status status, std::string body) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Reply FromAnswer(NotifyAnswer a) {
  Reply r = Json(static_cast<http::status>(a.status), std::move(a.body));
  r.headers = std::move(a.headers);
  return r;
}

Reply Error(http::status status, absl::string_view errcode, absl::string_view message) {
  return FromAnswer(MatrixError(static_cast<int>(status), errcode, message));
}

// Notify answers by status code, and how long they took.
Counter* ResponseCounter(int code) {
  static const auto* counters = new ByStatusCode<Counter>([](int c) {
    return Metrics::Global().GetCounter("herald_http_responses_total",
                                        "Bridge HTTP responses, by status code.",
                                        Labels({{"code", std::to_string(c)}}));
  });
  return counters->Get(code);
}

Histogram* NotifyDuration(int code) {
  static const auto* histograms = new ByStatusCode<Histogram>([](int c) {
    return Metrics::Global().GetHistogram(
        "herald_notify_duration_seconds",
        "Time to answer POST /_matrix/push/v1/notify, by status code.",
        Labels({{"code", std::to_string(c)}}));
  });
  return histograms->Get(code);
}

Gauge* NotifyInFlight() {
  static Gauge* g = Metrics::Global().GetGauge("herald_notify_in_flight",
                                               "Notify requests waiting for the dispatcher.");
  return g;
}

Gauge* IdleConnections() {
  static Gauge* g = Metrics::Global().GetGauge(
      "herald_http_connections_idle", "Open HTTP connections waiting for their next request.");
  return g;
}

// The dispatcher's answer → the homeserver's answer (notify_answer.h).
Reply FromDispatch(const grpc::Status& status, const herald::v1::DispatchResponse* response) {
  return FromAnswer(AnswerFor(status, response));
}

}  // namespace

// One notify request in flight: whichever comes first, the dispatcher's
// answer or the deadline, writes the reply.
struct Pending {
  std::string body;
  // Unique among those in flight: pairs the dispatcher's answer with this.
  std::string request_id;
  // The id in both services' logs and in the answer's X-Request-Id: the
  // caller's X-Request-Id when usable, else request_id.
  std::string log_id;
  std::string client;  // for the access log
  int devices = 0;
  unsigned version;
  bool keep_alive;
  absl::Time start = absl::Now();
  std::atomic<bool> answered{false};
  int sends = 0;
  // Its place in the server's Deadlines while on it (guarded by that lock).
  std::list<Deadlines::Waiting>::iterator waiting;
  bool listed = false;
};

// One keep-alive connection, as the server's lists see it (the work is in
// HttpSession below, over plain TCP or TLS).
class Session : public std::enable_shared_from_this<Session> {
 public:
  virtual ~Session() = default;
  // Closes this connection to make room for `newcomer` if it still waits
  // for its next request. If one has begun on it since it was picked (that
  // one is served), the next longest-idle is tried; with none left the
  // newcomer is closed instead, so that the cap holds.
  virtual void EvictFor(const std::shared_ptr<Session>& newcomer) = 0;
  // Closes the connection if it still waits for its next request.
  virtual void CloseIfIdle() = 0;
  // Closes it, on its strand.
  virtual void CloseSoon() = 0;
  // The deadline passed with no answer from the dispatcher.
  virtual void TimedOut(const std::shared_ptr<Pending>& pending) = 0;
  virtual IdleSessions::Mark* idle_mark() = 0;
};

// One keep-alive connection. Reads a request, answers it (maybe after an
// async gRPC call), then reads the next. All work runs on the session's strand.
// `Stream`: beast::tcp_stream, or a TLS stream over one (http.tls_cert_file).
template <class Stream>
class HttpSession final : public Session {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  HttpSession(tcp::socket socket, const ServerShared* shared)
      : stream_(MakeStream(std::move(socket), shared)), shared_(shared) {
    shared_->connections->Add(1);
    beast::error_code ec;
    tcp::endpoint peer = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) peer_ = peer.address().to_string();
  }
  ~HttpSession() override { shared_->connections->Add(-1); }

  // Over TLS the handshake comes first, within http.header_timeout.
  void Run() {
    asio::dispatch(stream_.get_executor(), [self = Self()] {
      if constexpr (kTls) {
        beast::get_lowest_layer(self->stream_).expires_after(self->shared_->header_timeout);
        self->stream_.async_handshake(asio::ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) return self->Close();
          self->Read();
        });
      } else {
        self->Read();
      }
    });
  }

  void EvictFor(const std::shared_ptr<Session>& newcomer) override {
    asio::post(stream_.get_executor(), [self = Self(), newcomer] {
      if (self->waiting_idle_) return self->Close();
      if (std::shared_ptr<Session> next = self->shared_->idle->TakeOldest()) {
        return next->EvictFor(newcomer);
      }
      newcomer->CloseSoon();
    });
  }

  void CloseIfIdle() override {
    asio::post(stream_.get_executor(), [self = Self()] {
      if (self->waiting_idle_) self->Close();
    });
  }

  void CloseSoon() override {
    asio::post(stream_.get_executor(), [self = Self()] { self->Close(); });
  }

  IdleSessions::Mark* idle_mark() override { return &idle_mark_; }

 private:
  // A keep-alive connection may wait idle for kIdleTimeout; once a request
  // has begun, its headers must arrive within http.header_timeout and its
  // body within http.body_timeout, so that a client sending a byte now and
  // then cannot hold a connection (and its memory) for ever.
  void Read() {
    parser_.emplace();
    continued_ = false;
    parser_->body_limit(shared_->max_body_bytes);
    parser_->header_limit(16 * 1024);
    parser_->eager(true);
    if (buffer_.size() > 0) return ParseBuffered();  // the next pipelined request
    beast::get_lowest_layer(stream_).expires_after(kIdleTimeout);
    waiting_idle_ = true;
    shared_->idle->Add(weak_from_this(), &idle_mark_);
    // Draining: a connection that would wait for its next request closes
    // instead. Checked after joining the list, so that the drain's CloseAll
    // (which runs after `stopping` is set) either finds it there or this
    // sees `stopping`.
    if (shared_->stopping.load()) {
      waiting_idle_ = false;
      shared_->idle->Remove(&idle_mark_);
      return Close();
    }
    stream_.async_read_some(buffer_.prepare(kFirstRead),
                            [self = Self()](beast::error_code ec, size_t bytes) {
                              self->waiting_idle_ = false;
                              self->shared_->idle->Remove(&self->idle_mark_);
                              if (ec) return self->OnRead(ec, 0);
                              self->buffer_.commit(bytes);
                              self->ParseBuffered();
                            });
  }

  // Most requests arrive whole in the first read: parse what is buffered
  // here, and only wait (with the header or body timeout) for what is
  // missing, so the usual request costs one read and one timer setting.
  void ParseBuffered() {
    beast::error_code ec;
    while (!parser_->is_done() && buffer_.size() > 0) {
      const size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) {
        ec = {};
        break;
      }
      if (ec) return OnRead(ec, 0);
      if (used == 0) break;
    }
    if (parser_->is_done()) return OnRead({}, 0);
    if (!parser_->is_header_done()) {
      beast::get_lowest_layer(stream_).expires_after(shared_->header_timeout);
      return http::async_read_header(stream_, buffer_, *parser_,
                                     [self = Self()](beast::error_code ec, size_t) {
                                       if (ec || self->parser_->is_done())
                                         return self->OnRead(ec, 0);
                                       self->ReadBody();
                                     });
    }
    ReadBody();
  }

  // RFC 9110 §10.1.1: a client that sent "Expect: 100-continue" may wait for
  // a 100 before it sends the body. Said once the headers are accepted (a
  // body too large was answered 413 before this).
  bool WantsContinue() {
    const auto& header = parser_->get();
    auto expect = header.find(http::field::expect);
    return header.version() >= 11 && expect != header.end() &&
           absl::EqualsIgnoreCase(absl::string_view(expect->value().data(), expect->value().size()),
                                  "100-continue");
  }

  void ReadBody() {
    beast::get_lowest_layer(stream_).expires_after(shared_->body_timeout);
    if (WantsContinue() && !continued_) {
      continued_ = true;
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      return asio::async_write(stream_, asio::buffer(kContinue),
                               [self = Self()](beast::error_code ec, size_t) {
                                 if (ec) return self->Close();  // the client is gone
                                 self->ReadBody();
                               });
    }
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::OnRead, Self()));
  }

  void OnRead(beast::error_code ec, size_t /*bytes*/) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted) {
      return Close();
    }
    if (ec == http::error::header_limit) {
      Reply r = Error(http::status::request_header_fields_too_large, "M_UNKNOWN",
                      "request headers are larger than 16 KiB");
      r.close = true;
      return Write(std::move(r), 11);
    }
    if (ec == http::error::body_limit) {
      Reply r =
          Error(http::status::payload_too_large, "M_TOO_LARGE",
                absl::StrCat("request body is larger than ", shared_->max_body_bytes, " bytes"));
      r.close = true;
      beast::string_view target = parser_->get().target();
      if (target.substr(0, target.find('?')) == kNotifyPath) {  // a notify request: its line
        Pending refused;
        Identify(parser_->get(), &refused);
        LogAccess(refused, r);
      }
      return Write(std::move(r), 11);
    }
    if (ec) {
      // Not HTTP we can answer within the protocol; say so and hang up.
      Reply r = Error(http::status::bad_request, "M_UNKNOWN",
                      absl::StrCat("malformed HTTP request: ", ec.message()));
      r.close = true;
      return Write(std::move(r), 11);
    }
    Handle(parser_->release());
  }

  void Handle(http::request<http::string_body> req) {
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    beast::string_view target = req.target();
    std::string absolute_target;  // backs `target` when rewritten
    // RFC 9112 §3.2.2: a server accepts the absolute form too.
    if (absl::StartsWithIgnoreCase(absl::string_view(target.data(), target.size()), "http://") ||
        absl::StartsWithIgnoreCase(absl::string_view(target.data(), target.size()), "https://")) {
      const size_t authority = target.find("://") + 3;
      // The path starts at the first '/' or '?' after the authority (a '/'
      // inside the query is not one).
      const size_t end = target.find_first_of("/?", authority);
      if (end == beast::string_view::npos) {
        target = "/";
      } else if (target[end] == '?') {
        absolute_target =
            absl::StrCat("/", absl::string_view(target.data() + end, target.size() - end));
        target = absolute_target;
      } else {
        target = target.substr(end);
      }
    }
    beast::string_view path = target.substr(0, target.find('?'));

    Reply reply;
    if (version >= 11 && req.find(http::field::host) == req.end()) {
      // RFC 9112 §3.2: a request without Host is answered 400.
      reply = Error(http::status::bad_request, "M_UNKNOWN", "HTTP/1.1 request without Host");
      reply.close = true;
    } else if (path == kNotifyPath) {
      if (req.method() == http::verb::post) {
        return StartNotify(std::move(req));
      } else if (req.method() == http::verb::get) {
        reply = Json(http::status::ok, R"({"unifiedpush":{"gateway":"matrix"}})");
      } else {
        reply = Error(http::status::method_not_allowed, "M_UNRECOGNIZED",
                      "unsupported method on the notify endpoint");
        reply.headers.emplace_back("Allow", "GET, POST");
      }
    } else if (path == "/metrics" && shared_->metrics_on_notify_port) {
      if (req.method() == http::verb::get) {
        reply.body = Metrics::Global().Render();
        reply.content_type = "text/plain; version=0.0.4";
      } else {
        reply = Error(http::status::method_not_allowed, "M_UNRECOGNIZED",
                      "unsupported method on /metrics");
        reply.headers.emplace_back("Allow", "GET");
      }
    } else if (path == "/ready") {
      if (req.method() == http::verb::get || req.method() == http::verb::head) {
        reply = ReadyReply();
      } else {
        reply = Error(http::status::method_not_allowed, "M_UNRECOGNIZED",
                      "unsupported method on /ready");
        reply.headers.emplace_back("Allow", "GET, HEAD");
      }
    } else if (path == "/health") {
      if (req.method() == http::verb::get || req.method() == http::verb::head) {
        reply = Json(http::status::ok, R"({"status":"ok"})");
      } else {
        reply = Error(http::status::method_not_allowed, "M_UNRECOGNIZED",
                      "unsupported method on /health");
        reply.headers.emplace_back("Allow", "GET, HEAD");
      }
    } else {
      reply = Error(http::status::not_found, "M_UNRECOGNIZED", "unrecognized request");
    }
    reply.counted = path != "/health" && path != "/ready" && path != "/metrics";
    reply.head = req.method() == http::verb::head;
    reply.close = reply.close || !keep_alive;
    Write(std::move(reply), version);
  }

  // GET /ready: 200 while a dispatcher connection is up and the bridge is not
  // draining; else 503, so that a load balancer sends notifications elsewhere.
  Reply ReadyReply() const {
    if (shared_->stopping.load()) {
      return Error(http::status::service_unavailable, "M_UNKNOWN",
                   "draining: not taking new notifications");
    }
    if (shared_->dispatcher_ready && !shared_->dispatcher_ready()) {
      return Error(http::status::service_unavailable, "M_UNKNOWN",
                   "no connection to a dispatcher is up");
    }
    return Json(http::status::ok, R"({"status":"ready"})");
  }

  void StartNotify(http::request<http::string_body> req) {
    auto pending = std::make_shared<Pending>();
    pending->version = req.version();
    pending->keep_alive = req.keep_alive();
    Identify(req, pending.get());
    herald::v1::DispatchRequest request;
    if (absl::Status err = ParseNotifyBody(req.body(), request.mutable_notification()); !err.ok()) {
      Reply r = Error(http::status::bad_request, ErrCode(err), err.message());
      r.close = !pending->keep_alive;
      LogAccess(*pending, r);
      return Write(std::move(r), pending->version);
    }
    pending->devices = request.notification().devices_size();
    pending->body = std::move(req.body());  // kept to resend if a dispatcher drains
    shared_->notifies->Begin();
    NotifyInFlight()->Add(1);
    shared_->deadlines->Add(Self(), pending, shared_->deadline);
    Send(std::move(request), pending);
  }

 public:
  void TimedOut(const std::shared_ptr<Pending>& pending) override {
    asio::post(stream_.get_executor(), [self = Self(), pending] {
      if (pending->answered.load()) return;
      HERALD_LOG(kWarning, kComponent, "[", pending->log_id,
                 "] no answer from the dispatcher in time");
      // The same answer as the dispatcher's own DEADLINE_EXCEEDED.
      self->Answer(pending,
                   FromDispatch(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, ""), nullptr));
    });
  }

 private:
  void Send(herald::v1::DispatchRequest request, const std::shared_ptr<Pending>& pending) {
    ++pending->sends;
    request.set_request_id(pending->request_id);
    request.set_trace_id(pending->log_id);
    request.set_timeout_ms(static_cast<uint32_t>(absl::ToInt64Milliseconds(shared_->deadline)));
    shared_->client->Dispatch(
        std::move(request), [self = Self(), pending](const grpc::Status& status,
                                                     herald::v1::DispatchResponse* response) {
          // On a gRPC thread. A draining dispatcher did not start the
          // notification: send it again (DispatchClient has retired that
          // stream, so this goes on a new one).
          if (herald::v1::IsNotStarted(status) && pending->sends < 3 && !pending->answered.load()) {
            herald::v1::DispatchRequest again;
            // The body parsed when it arrived; it parses the same now.
            ParseNotifyBody(pending->body, again.mutable_notification()).IgnoreError();
            self->Send(std::move(again), pending);
            return;
          }
          // Build the reply here (the response lives only now), then hand
          // it to the session's strand.
          Reply r = FromDispatch(status, response);
          if (response != nullptr) CountOutcomes(*response, &r.outcomes);
          if (r.status != http::status::ok) {
            HERALD_LOG(kInfo, kComponent, "[", pending->log_id, "] ", static_cast<int>(r.status),
                       " ", r.body);
          }
          asio::post(self->stream_.get_executor(), [self, pending, r = std::move(r)]() mutable {
            self->Answer(pending, std::move(r));
          });
        });
  }

  // Ends a notify request, once: with the dispatcher's answer or at the
  // deadline, whichever comes first. On the session's strand.
  void Answer(const std::shared_ptr<Pending>& pending, Reply r) {
    if (pending->answered.exchange(true)) return;
    shared_->deadlines->Remove(pending.get());
    NotifyInFlight()->Add(-1);  // answered; the drain's count ends once written
    NotifyDuration(static_cast<int>(r.status))
        ->Observe(absl::ToDoubleSeconds(absl::Now() - pending->start));
    LogAccess(*pending, r);
    r.close = !pending->keep_alive;
    r.ends_notify = true;  // a drain waits until it is written
    Write(std::move(r), pending->version);
  }

  // The request's ids and client, from its headers.
  template <class Fields>
  void Identify(const Fields& headers, Pending* pending) const {
    pending->request_id = NewRequestId();
    auto given = headers.find("X-Request-Id");
    if (given != headers.end()) {
      pending->log_id =
          UsableRequestId(absl::string_view(given->value().data(), given->value().size()));
    }
    if (pending->log_id.empty()) pending->log_id = pending->request_id;
    beast::string_view forwarded;
    if (shared_->x_forwarded_for) {
      auto it = headers.find("X-Forwarded-For");
      if (it != headers.end()) forwarded = it->value();
    }
    pending->client = ClientAddress(peer_, absl::string_view(forwarded.data(), forwarded.size()),
                                    shared_->x_forwarded_for);
  }

  // The access line of a notify request (when log.access is on), and its
  // id in the answer.
  void LogAccess(const Pending& pending, Reply& r) const {
    r.headers.emplace_back("X-Request-Id", pending.log_id);
    if (!shared_->access_log || !LogEnabled(LogLevel::kInfo)) return;
    AccessRecord a = r.outcomes;
    a.request_id = pending.log_id;
    a.client = pending.client;
    a.status = static_cast<int>(r.status);
    a.devices = pending.devices;
    a.duration = absl::Now() - pending.start;
    HERALD_LOG(kInfo, kComponent, AccessLine(a));
  }

  void Write(Reply reply, unsigned version) {
    auto res = std::make_shared<http::response<http::string_body>>(reply.status, version);
    if (reply.counted) ResponseCounter(static_cast<int>(reply.status))->Add();
    res->set(http::field::content_type,
             beast::string_view(reply.content_type.data(), reply.content_type.size()));
    for (const auto& [name, value] : reply.headers) res->set(name, value);
    res->body() = std::move(reply.body);
    const bool close = reply.close || shared_->stopping.load(std::memory_order_relaxed);
    res->keep_alive(!close);
    res->prepare_payload();
    if (reply.head) res->body().clear();  // Content-Length stays the GET's
    beast::get_lowest_layer(stream_).expires_after(kIdleTimeout);
    const bool ends_notify = reply.ends_notify;
    http::async_write(stream_, *res,
                      [self = Self(), res, close, ends_notify](beast::error_code ec, size_t) {
                        if (ends_notify) self->shared_->notifies->End();
                        if (ec || close) return self->Close();
                        self->Read();
                      });
  }

  // Over TLS without a close_notify: answers carry their length, so a
  // client cannot take the cut for the end of one.
  void Close() {
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_send, ec);
    beast::get_lowest_layer(stream_).socket().close(ec);
  }

  std::shared_ptr<HttpSession> Self() {
    return std::static_pointer_cast<HttpSession>(shared_from_this());
  }

  static Stream MakeStream(tcp::socket socket, const ServerShared* shared) {
    if constexpr (kTls) {
      return Stream(beast::tcp_stream(std::move(socket)), *shared->tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  Stream stream_;
  std::string peer_;  // the client's address, for the access log
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const ServerShared* shared_;
  bool waiting_idle_ = false;  // on the strand
  bool continued_ = false;     // "100 Continue" sent for the request being read
  IdleSessions::Mark idle_mark_;
};

std::shared_ptr<Session> IdleSessions::TakeOldest() {
  absl::MutexLock lock(&mu_);
  while (!list_.empty()) {
    std::shared_ptr<Session> oldest = list_.front().lock();
    if (oldest != nullptr) oldest->idle_mark()->listed = false;
    list_.pop_front();
    IdleConnections()->Add(-1);
    if (oldest != nullptr) return oldest;
  }
  return nullptr;
}

void Deadlines::Add(std::shared_ptr<Session> session, std::shared_ptr<Pending> pending,
                    absl::Duration deadline) {
  Pending* p = pending.get();
  absl::MutexLock lock(&mu_);
  p->waiting = list_.insert(list_.end(), Waiting{Clock::now() + absl::ToChronoNanoseconds(deadline),
                                                 std::move(session), std::move(pending)});
  p->listed = true;
}

void Deadlines::Remove(Pending* pending) {
  std::list<Waiting> gone;  // its references drop outside the lock
  absl::MutexLock lock(&mu_);
  if (!pending->listed) return;
  pending->listed = false;
  gone.splice(gone.end(), list_, pending->waiting);
}

void Deadlines::TimeOutDue(Clock::time_point now) {
  std::vector<Waiting> due;
  {
    absl::MutexLock lock(&mu_);
    while (!list_.empty() && list_.front().due <= now) {
      list_.front().pending->listed = false;
      due.push_back(std::move(list_.front()));
      list_.pop_front();
    }
  }
  for (Waiting& w : due) w.session->TimedOut(w.pending);
}

void IdleSessions::Add(std::weak_ptr<Session> session, Mark* mark) {
  absl::MutexLock lock(&mu_);
  mark->at = list_.insert(list_.end(), std::move(session));
  mark->listed = true;
  IdleConnections()->Add(1);
}

void IdleSessions::Remove(Mark* mark) {
  absl::MutexLock lock(&mu_);
  if (!mark->listed) return;
  mark->listed = false;
  list_.erase(mark->at);
  IdleConnections()->Add(-1);
}

void IdleSessions::CloseAll() {
  while (std::shared_ptr<Session> idle = TakeOldest()) idle->CloseIfIdle();
}

void NotifyCount::Begin() {
  absl::MutexLock lock(&mu_);
  ++in_flight_;
}

void NotifyCount::End() {
  absl::MutexLock lock(&mu_);
  --in_flight_;
}

bool NotifyCount::WaitForNone(absl::Duration limit) {
  absl::MutexLock lock(&mu_);
  auto none = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return in_flight_ == 0; };
  return AwaitMonotonic(&mu_, absl::Condition(&none), limit);
}

Gauge* ServerShared::OpenConnections() {
  static Gauge* g =
      Metrics::Global().GetGauge("herald_http_connections", "Open HTTP connections to the bridge.");
  return g;
}

void StartSession(tcp::socket socket, const ServerShared* shared,
                  const std::shared_ptr<Session>& evicted) {
  auto start = [&](auto session) {
    if (evicted != nullptr) evicted->EvictFor(session);
    session->Run();
  };
  if (shared->tls != nullptr) {
    start(std::make_shared<HttpSession<beast::ssl_stream<beast::tcp_stream>>>(std::move(socket),
                                                                              shared));
  } else {
    start(std::make_shared<HttpSession<beast::tcp_stream>>(std::move(socket), shared));
  }
}

}  // namespace herald::bridge
