#include "http/curl_http_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "common/executor.h"
#include "common/log.h"
#include "http/endpoint.h"
#include "http/upstream_metrics.h"

namespace herald::http {

bool IsPrivateAddress(absl::string_view ip_text) {
  std::string ip(ip_text);
  in_addr v4{};
  in6_addr v6{};
  auto private_v4 = [](uint32_t a) {  // host byte order
    auto in = [a](uint32_t net, int bits) {
      uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
      return (a & mask) == (net & mask);
    };
    return in(0x00000000, 8) ||   // 0.0.0.0/8 "this network"
           in(0x0A000000, 8) ||   // 10/8
           in(0x64400000, 10) ||  // 100.64/10 CGNAT
           in(0x7F000000, 8) ||   // loopback
           in(0xA9FE0000, 16) ||  // link-local
           in(0xAC100000, 12) ||  // 172.16/12
           in(0xC0000000, 24) ||  // 192.0.0/24 IETF protocol assignments
           in(0xC0A80000, 16) ||  // 192.168/16
           in(0xC6120000, 15) ||  // 198.18/15 benchmarking
           in(0xE0000000, 4) ||   // multicast
           in(0xF0000000, 4);     // reserved + broadcast
  };
  if (inet_pton(AF_INET, ip.c_str(), &v4) == 1) {
    return private_v4(ntohl(v4.s_addr));
  }
  if (inet_pton(AF_INET6, ip.c_str(), &v6) == 1) {
    const uint8_t* b = v6.s6_addr;
    static const uint8_t kZero[16] = {};
    if (std::memcmp(b, kZero, 15) == 0 && (b[15] == 0 || b[15] == 1)) return true;  // :: and ::1
    if ((b[0] & 0xFE) == 0xFC) return true;                  // fc00::/7 unique local
    if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) return true;  // fe80::/10 link-local
    if (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0) return true;  // fec0::/10 site-local
    if (b[0] == 0xFF) return true;                           // multicast
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    static const uint8_t kNat64[12] = {0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0};
    if (std::memcmp(b, kMapped, 12) == 0 || std::memcmp(b, kNat64, 12) == 0 ||
        std::memcmp(b, kZero, 12) == 0 /* deprecated v4-compatible */) {
      uint32_t a =
          (uint32_t{b[12]} << 24) | (uint32_t{b[13]} << 16) | (uint32_t{b[14]} << 8) | b[15];
      return private_v4(a);
    }
    return false;
  }
  return true;
}

namespace {

using Clock = std::chrono::steady_clock;

std::once_flag g_curl_init;

// Every request ends here, exactly once, before its callback runs (so a
// caller that saw the answer sees it counted): its time since Send(), its
// status (or "error"), one fewer in flight.
void RecordEnd(const HttpRequest& request, Clock::time_point sent, const HttpResponse& response) {
  if (request.metrics == nullptr) return;
  request.metrics->Finished(response.ok() ? response.status : 0,
                            absl::FromChrono(Clock::now() - sent));
}

// One libcurl multi handle: its own connection cache and timer. libcurl
// 7.88 walks a multi handle's connections to a host for every transfer it
// starts (to find an idle one), and every connection in its cache for every
// handle it removes (looking for a connect-only one), so a loop spreads
// HTTP/1.1 transfers over a few multi handles instead of keeping thousands
// of connections in one. (Transfers that may multiplex, which includes any
// https:// URL, stay on one multi handle per origin: an HTTPS server that
// only speaks HTTP/1.1 still gets all its connections in one.)
struct Multi {
  CURLM* handle = nullptr;
  int index = 0;                                  // in its loop's multis_
  int running = 0;                                // transfers added and not yet finished
  absl::Time timer_due = absl::InfiniteFuture();  // curl's next timer
  int epoll_fd = -1;                              // the loop's
};

struct Transfer {
  CURL* easy = nullptr;
  Multi* multi = nullptr;  // the multi handle running it; loop thread only
  curl_slist* header_list = nullptr;
  curl_slist* connect_to = nullptr;
  HttpRequest request;
  Clock::time_point sent;  // when CurlHttpClient::Send() took it
  HttpResponse response;
  HttpClient::Callback done;
  size_t max_body = 0;
  bool refused_address = false;
  bool proxied = false;
  int sends = 0;  // connections the request was about to go out on
  bool resend_refused = false;
  std::string refused_ip;

  ~Transfer() {
    if (header_list != nullptr) curl_slist_free_all(header_list);
    if (connect_to != nullptr) curl_slist_free_all(connect_to);
    if (easy != nullptr) curl_easy_cleanup(easy);
  }
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  size_t room = t->max_body > t->response.body.size() ? t->max_body - t->response.body.size() : 0;
  t->response.body.append(data, std::min(len, room));
  return len;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  absl::string_view line(data, len);
  line = absl::StripTrailingAsciiWhitespace(line);
  if (absl::StartsWith(line, "HTTP/")) {
    t->response.headers.clear();  // a new response (after 1xx)
    return len;
  }
  size_t colon = line.find(':');
  if (colon == absl::string_view::npos || t->response.headers.size() > 200) return len;
  t->response.headers.emplace_back(absl::AsciiStrToLower(line.substr(0, colon)),
                                   std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  return len;
}

// Over TLS (ALPN may pick HTTP/2) or with h2c by prior knowledge, a request
// may share a connection with others to its origin.
bool MayMultiplex(const HttpRequest& r) {
  return r.version == HttpVersion::kHttp2PriorKnowledge ||
         (r.version == HttpVersion::kAuto && absl::StartsWithIgnoreCase(r.url, "https:"));
}

// Runs once a connection is ready (new or reused), before the request goes
// out: the one place where the peer address is known for certain.
int OnPrereq(void* user, char* conn_primary_ip, char* /*conn_local_ip*/, int /*conn_primary_port*/,
             int /*conn_local_port*/) {
  auto* t = static_cast<Transfer*>(user);
  // libcurl sends an HTTP/1.1 request again by itself when a reused
  // connection dies before any answer; the dispatcher counts and spaces its
  // attempts, so that second send is stopped here and the transfer fails
  // like the first. Where HTTP/2 may be spoken, curl's re-sends are of
  // streams the server never processed (REFUSED_STREAM, after a GOAWAY) or
  // the downgrade to HTTP/1.1 a server asks for: those go ahead.
  if (++t->sends > 1 && !MayMultiplex(t->request)) {
    t->resend_refused = true;
    return CURL_PREREQFUNC_ABORT;
  }
  // Through a proxy this is the proxy's address: the destination was
  // checked before (CurlHttpClient::Resolver).
  if (!t->request.allow_private_addresses && !t->proxied && IsPrivateAddress(conn_primary_ip)) {
    t->refused_address = true;
    t->refused_ip = conn_primary_ip;
    return CURL_PREREQFUNC_ABORT;
  }
  return CURL_PREREQFUNC_OK;
}

TransportError Classify(CURLcode code) {
  switch (code) {
    case CURLE_OK:
      return TransportError::kNone;
    case CURLE_OPERATION_TIMEDOUT:
      return TransportError::kTimeout;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
      return TransportError::kConnect;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
      return TransportError::kTls;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return TransportError::kBadUrl;
    default:
      return TransportError::kOther;
  }
}

}  // namespace

// An event-loop thread, its epoll set and the libcurl multi handles it drives.
class CurlHttpClient::Loop {
 public:
  explicit Loop(HttpClientOptions options) : options_(options) {
    std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeTag;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
    // A client capped to a few connections per host needs one multi handle
    // (and the cap holds only within one).
    const int multis = options_.max_host_connections > 0 ? 1 : kMultisPerLoop;
    for (int i = 0; i < multis; ++i) {
      auto m = std::make_unique<Multi>();
      m->index = i;
      m->epoll_fd = epoll_fd_;
      m->handle = curl_multi_init();
      CURLM* h = m->handle;
      // Event-driven: curl says which sockets to watch and when its next
      // timer is due, and each ready socket runs only its own transfer.
      // (With curl_multi_perform every wake-up visited every transfer, a
      // poll(2) each: O(transfers in flight) per event.)
      curl_multi_setopt(h, CURLMOPT_SOCKETFUNCTION, &Loop::OnSocket);
      curl_multi_setopt(h, CURLMOPT_SOCKETDATA, m.get());
      curl_multi_setopt(h, CURLMOPT_TIMERFUNCTION, &Loop::OnTimer);
      curl_multi_setopt(h, CURLMOPT_TIMERDATA, m.get());
      curl_multi_setopt(h, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
      // Keep idle connections for reuse. curl's default cache holds 4 per
      // easy handle *currently added*: with handles removed as soon as their
      // transfer ends, a burst's connections were closed right after it and
      // reopened by the next (thousands of TCP handshakes a second).
      curl_multi_setopt(h, CURLMOPT_MAXCONNECTS, kMaxIdleConnections / multis);
      if (options_.max_host_connections > 0) {
        curl_multi_setopt(h, CURLMOPT_MAX_HOST_CONNECTIONS, options_.max_host_connections);
      }
      multis_.push_back(std::move(m));
    }
    loop_ = std::thread([this] { Run(); });
  }

  ~Loop() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    Wake();
    loop_.join();
    for (CURL* e : idle_) curl_easy_cleanup(e);
    for (auto& m : multis_) curl_multi_cleanup(m->handle);
    close(wake_fd_);
    close(epoll_fd_);
  }

  // Transfers queued or running here: where the next one goes.
  int Load() const { return load_.load(std::memory_order_relaxed); }

  void Send(HttpRequest request, Callback done, Clock::time_point sent) {
    load_.fetch_add(1, std::memory_order_relaxed);
    auto t = std::make_unique<Transfer>();
    t->request = std::move(request);
    t->sent = sent;
    t->done = std::move(done);
    t->max_body = options_.max_response_body;
    {
      absl::MutexLock lock(&mu_);
      if (!stopping_) {
        queue_.push_back(std::move(t));
      }
    }
    if (t != nullptr) {  // not queued: shutting down
      Abandon(std::move(t));
      return;
    }
    // One wake-up per batch: when the loop is already due to look at the
    // queue, there is no need for another syscall.
    if (!wake_pending_.exchange(true)) Wake();
  }

 private:
  void Start(std::unique_ptr<Transfer> t) {
    CURL* e;
    if (idle_.empty()) {
      e = curl_easy_init();
    } else {
      e = idle_.back();
      idle_.pop_back();
    }
    t->easy = e;
    const HttpRequest& r = t->request;
    curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(r.timeout))));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::max<int64_t>(
                         1, absl::ToInt64Milliseconds(std::min(r.connect_timeout, r.timeout)))));
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    // Prefer waiting for a connection being set up (it may turn out to be
    // HTTP/2 and take this request too) over opening another. Only where
    // multiplexing is possible: over TLS, or with h2c by prior knowledge.
    if (MayMultiplex(r)) {
      curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    }
    switch (r.version) {
      case HttpVersion::kAuto:
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
        break;
      case HttpVersion::kHttp11:
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
        break;
      case HttpVersion::kHttp2PriorKnowledge:
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
        break;
    }
    // An explicit proxy or none at all: libcurl would otherwise read
    // http_proxy and friends from the environment on its own.
    curl_easy_setopt(e, CURLOPT_PROXY, options_.proxy.c_str());
    if (!options_.proxy.empty()) {
      // Every request through a CONNECT tunnel, plain http:// too, as Sygnal.
      curl_easy_setopt(e, CURLOPT_HTTPPROXYTUNNEL, 1L);
      t->proxied = true;
    }
    if (!r.connect_to.empty()) {
      t->connect_to = curl_slist_append(nullptr, r.connect_to.c_str());
      curl_easy_setopt(e, CURLOPT_CONNECT_TO, t->connect_to);
    }
    if (!r.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, r.ca_file.c_str());
    if (!r.client_cert_file.empty()) {
      curl_easy_setopt(e, CURLOPT_SSLCERT, r.client_cert_file.c_str());
      curl_easy_setopt(e, CURLOPT_SSLKEY, r.client_cert_file.c_str());
    }
    if (r.method == "POST") {
      curl_easy_setopt(e, CURLOPT_POST, 1L);
    } else if (r.method != "GET") {
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    }
    if (r.method != "GET" || !r.body.empty()) {
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    }
    // No "Expect: 100-continue" round trip, no default content type.
    t->header_list = curl_slist_append(t->header_list, "Expect:");
    bool has_content_type = false;
    for (const auto& [name, value] : r.headers) {
      if (absl::EqualsIgnoreCase(name, "content-type")) has_content_type = true;
      t->header_list = curl_slist_append(t->header_list, absl::StrCat(name, ": ", value).c_str());
    }
    if (!has_content_type) t->header_list = curl_slist_append(t->header_list, "Content-Type:");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->header_list);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, OnPrereq);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, t.get());
    curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
    Multi* m = Choose(r);
    if (curl_multi_add_handle(m->handle, e) != CURLM_OK) {
      t->response.error = TransportError::kOther;
      t->response.error_detail = "curl_multi_add_handle failed";
      Complete(std::move(t));
      return;
    }
    t->multi = m;
    ++m->running;
    active_.insert(t.release());  // owned by the multi handle until done
  }

  // Transfers that may share an HTTP/2 connection go to one multi handle per
  // origin (its cache holds that connection); HTTP/1.1 ones, which need a
  // connection each anyway, to the multi handle running the fewest.
  Multi* Choose(const HttpRequest& r) {
    if (MayMultiplex(r)) {
      // Salted: the unsalted hash already picked this loop among the others.
      return multis_[absl::HashOf(r.origin, kMultiSalt) % multis_.size()].get();
    }
    Multi* best = multis_.front().get();
    for (const auto& m : multis_) {
      if (m->running < best->running) best = m.get();
    }
    return best;
  }

  // Every transfer ends here, exactly once.
  void Complete(std::unique_ptr<Transfer> t) {
    Callback done = std::move(t->done);
    HttpResponse response = std::move(t->response);
    RecordEnd(t->request, t->sent, response);
    t.reset();
    load_.fetch_sub(1, std::memory_order_relaxed);
    done(std::move(response));
  }

  void Abandon(std::unique_ptr<Transfer> t) {
    t->response.error = TransportError::kShutdown;
    t->response.error_detail = "HTTP client is shutting down";
    Complete(std::move(t));
  }

  void Finish(CURL* e, CURLcode code) {
    Transfer* raw = nullptr;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, &raw);
    std::unique_ptr<Transfer> t(raw);
    active_.erase(raw);
    curl_multi_remove_handle(t->multi->handle, e);
    --t->multi->running;
    HttpResponse& resp = t->response;
    if (t->refused_address) {
      resp.error = TransportError::kRefusedAddress;
      resp.error_detail = absl::StrCat("refused to connect to private address ", t->refused_ip);
    } else if (t->resend_refused) {
      resp.error = TransportError::kOther;
      resp.error_detail = "the connection closed before an answer";
    } else if (code != CURLE_OK) {
      resp.error = Classify(code);
      resp.error_detail = curl_easy_strerror(code);
    }
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    resp.status = static_cast<int>(status);
    if (resp.error == TransportError::kNone && resp.status == 0) {
      resp.error = TransportError::kOther;
      resp.error_detail = "no HTTP status received";
    }
    // Keep the handle (and its buffers) for the next request.
    if (idle_.size() < kMaxIdleHandles) {
      curl_easy_reset(e);
      idle_.push_back(e);
      t->easy = nullptr;
    }
    Complete(std::move(t));
  }

  void Wake() {
    uint64_t one = 1;
    ssize_t ignored = write(wake_fd_, &one, sizeof(one));
    (void)ignored;
  }

  // curl: watch `fd` for `what` (or stop watching it). The epoll entry
  // carries the multi handle's index next to the socket.
  static int OnSocket(CURL* /*easy*/, curl_socket_t fd, int what, void* user, void* /*socketp*/) {
    auto* m = static_cast<Multi*>(user);
    if (what == CURL_POLL_REMOVE) {
      epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
      return 0;
    }
    epoll_event ev{};
    ev.data.u64 = (static_cast<uint64_t>(m->index) << 32) | static_cast<uint32_t>(fd);
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    if (epoll_ctl(m->epoll_fd, EPOLL_CTL_MOD, fd, &ev) != 0) {
      epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
    }
    return 0;
  }

  // curl: call back with CURL_SOCKET_TIMEOUT in `timeout_ms` (-1: no timer).
  static int OnTimer(CURLM* /*multi*/, long timeout_ms, void* user) {
    auto* m = static_cast<Multi*>(user);
    m->timer_due =
        timeout_ms < 0 ? absl::InfiniteFuture() : MonotonicNow() + absl::Milliseconds(timeout_ms);
    return 0;
  }

  void Run() {
    constexpr int kMaxEvents = 256;
    epoll_event events[kMaxEvents];
    int running = 0;
    while (true) {
      absl::Time due = absl::InfiniteFuture();
      for (const auto& m : multis_) due = std::min(due, m->timer_due);
      absl::Duration wait = std::min(due - MonotonicNow(), absl::Seconds(1));
      int wait_ms =
          wait <= absl::ZeroDuration()
              ? 0
              : static_cast<int>(absl::ToInt64Milliseconds(wait + absl::Microseconds(999)));
      int n = epoll_wait(epoll_fd_, events, kMaxEvents, wait_ms);
      bool woken = false;
      for (int i = 0; i < n; ++i) {
        uint64_t tag = events[i].data.u64;
        if (tag == kWakeTag) {
          uint64_t count;
          while (read(wake_fd_, &count, sizeof(count)) > 0) {
          }
          woken = true;
          continue;
        }
        int flags = (events[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                    (events[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                    (events[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(multis_[tag >> 32]->handle,
                                 static_cast<curl_socket_t>(tag & 0xffffffffu), flags, &running);
      }
      if (woken) {
        std::deque<std::unique_ptr<Transfer>> batch;
        bool stopping;
        wake_pending_.store(false);
        {
          absl::MutexLock lock(&mu_);
          batch.swap(queue_);
          stopping = stopping_;
        }
        if (stopping) {
          for (auto& t : batch) Abandon(std::move(t));
          break;
        }
        // Each added handle asks for a timer of 0: the check below starts them.
        for (auto& t : batch) Start(std::move(t));
      }
      absl::Time now = MonotonicNow();
      for (const auto& m : multis_) {
        if (m->timer_due <= now) {
          m->timer_due = absl::InfiniteFuture();
          curl_multi_socket_action(m->handle, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        if (m->running == 0) continue;
        int left = 0;
        while (CURLMsg* msg = curl_multi_info_read(m->handle, &left)) {
          if (msg->msg == CURLMSG_DONE) Finish(msg->easy_handle, msg->data.result);
        }
      }
    }
    // Fail whatever is still in flight.
    std::unordered_set<Transfer*> active;
    active.swap(active_);
    for (Transfer* t : active) {
      curl_multi_remove_handle(t->multi->handle, t->easy);
      Abandon(std::unique_ptr<Transfer>(t));
    }
  }

  static constexpr int kMultisPerLoop = 8;
  static constexpr int kMultiSalt = 0x6d756c74;
  static constexpr uint64_t kWakeTag = ~uint64_t{0};  // epoll tag of wake_fd_

  HttpClientOptions options_;
  std::vector<std::unique_ptr<Multi>> multis_;
  std::thread loop_;
  absl::Mutex mu_;
  std::deque<std::unique_ptr<Transfer>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> wake_pending_{false};
  std::atomic<int> load_{0};
  std::unordered_set<Transfer*> active_;  // loop thread only
  static constexpr size_t kMaxIdleHandles = 256;
  static constexpr long kMaxIdleConnections = 4096;  // per loop, split over its multi handles
  std::vector<CURL*> idle_;                          // reset easy handles; loop thread only
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
};

// Behind a proxy, the destination host of a request that refuses private
// addresses is resolved here and checked before the request goes to a loop
// (getaddrinfo blocks, so not on a loop thread), and the tunnel is pinned to
// the public address checked (CONNECT_TO), so the proxy's own lookup cannot
// be steered elsewhere. A few threads, so that one host with slow DNS does
// not hold up the others; verdicts are kept for a short while (endpoints are
// few hosts, pushes are many). Started on first use: apps that never refuse
// private addresses (APNs, FCM) never start them.
class CurlHttpClient::Resolver {
 public:
  explicit Resolver(CurlHttpClient* client) : client_(client) {}
  ~Resolver() { Stop(); }

  // Ends the threads; what is queued, and whatever comes later, is answered
  // kShutdown.
  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

  void Check(HttpRequest request, Callback done, SentAt sent) {
    Job job{std::move(request), std::move(done), sent, MonotonicNow()};
    {
      absl::MutexLock lock(&mu_);
      if (!stopping_) {
        if (threads_.empty()) {
          for (int i = 0; i < kThreads; ++i) threads_.emplace_back([this] { Run(); });
        }
        queue_.push_back(std::move(job));
        return;
      }
    }
    Answer(job, TransportError::kShutdown, "HTTP client is shutting down");
  }

 private:
  struct Job {
    HttpRequest request;
    Callback done;
    SentAt sent;
    absl::Time queued;
  };
  struct Verdict {
    bool resolved = false;
    std::string public_ip;   // the first public address; empty when none
    std::string private_ip;  // the first private one, for the log
    absl::Time until;
  };
  static constexpr int kThreads = 4;
  static constexpr absl::Duration kKeep = absl::Seconds(30);
  static constexpr absl::Duration kKeepFailure = absl::Seconds(2);

  static void Answer(Job& job, TransportError error, std::string detail) {
    HttpResponse r;
    r.error = error;
    r.error_detail = std::move(detail);
    RecordEnd(job.request, job.sent, r);
    job.done(std::move(r));
  }

  void Run() {
    while (true) {
      std::optional<Job> job;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](Resolver* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
              return r->stopping_ || !r->queue_.empty();
            },
            this));
        if (queue_.empty()) return;  // stopping, nothing left
        job.emplace(std::move(queue_.front()));
        queue_.pop_front();
      }
      Decide(std::move(*job));  // answers kShutdown, without a lookup, when stopping
    }
  }

  void Decide(Job job) {
    if (Stopping()) return Answer(job, TransportError::kShutdown, "HTTP client is shutting down");
    // The wait here counts against the request's own timeout.
    if (MonotonicNow() - job.queued >= job.request.timeout) {
      return Answer(job, TransportError::kTimeout, "timed out waiting for a DNS lookup");
    }
    std::optional<HttpEndpoint> endpoint = ParseHttpEndpoint(job.request.url);
    std::string host = endpoint ? endpoint->host : "";
    std::string port = !endpoint                                      ? ""
                       : !endpoint->port.empty()                      ? endpoint->port
                       : absl::StartsWith(endpoint->origin, "https:") ? "443"
                                                                      : "80";
    const std::string name =
        host.size() > 2 && host.front() == '[' ? host.substr(1, host.size() - 2) : host;
    const Verdict verdict = Lookup(name);
    if (!verdict.resolved) {
      return Answer(job, TransportError::kConnect,
                    absl::StrCat("cannot resolve ", name.empty() ? "the URL's host" : name));
    }
    if (verdict.public_ip.empty()) {
      return Answer(job, TransportError::kRefusedAddress,
                    absl::StrCat("refused to connect to private address ", verdict.private_ip));
    }
    const bool v6 = verdict.public_ip.find(':') != std::string::npos;
    job.request.connect_to = absl::StrCat(host, ":", port, ":", v6 ? "[" : "", verdict.public_ip,
                                          v6 ? "]" : "", ":", port);
    client_->SendToLoop(std::move(job.request), std::move(job.done), job.sent);
  }

  bool Stopping() {
    absl::MutexLock lock(&mu_);
    return stopping_;
  }

  Verdict Lookup(const std::string& host) {
    {
      absl::MutexLock lock(&cache_mu_);
      if (auto it = cache_.find(host); it != cache_.end() && it->second.until > MonotonicNow()) {
        return it->second;
      }
    }
    Verdict v;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (!host.empty() && getaddrinfo(host.c_str(), nullptr, &hints, &found) == 0) {
      v.resolved = true;
      for (addrinfo* a = found; a != nullptr && v.public_ip.empty(); a = a->ai_next) {
        char text[INET6_ADDRSTRLEN] = {};
        const void* addr =
            a->ai_family == AF_INET
                ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
                : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
        if (inet_ntop(a->ai_family, addr, text, sizeof(text)) == nullptr) continue;
        if (IsPrivateAddress(text)) {
          if (v.private_ip.empty()) v.private_ip = text;
        } else {
          v.public_ip = text;
        }
      }
      freeaddrinfo(found);
    }
    // From the end of the lookup: a slow failure is not expired on arrival.
    v.until = MonotonicNow() + (v.resolved ? kKeep : kKeepFailure);
    absl::MutexLock lock(&cache_mu_);
    if (cache_.size() > 10000) cache_.clear();
    cache_[host] = v;
    return v;
  }

  CurlHttpClient* client_;
  absl::Mutex mu_;
  std::deque<Job> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  absl::Mutex cache_mu_;
  std::unordered_map<std::string, Verdict> cache_ ABSL_GUARDED_BY(cache_mu_);
};

CurlHttpClient::CurlHttpClient(HttpClientOptions options) : proxied_(!options.proxy.empty()) {
  for (int i = 0; i < std::max(1, options.threads); ++i) {
    loops_.push_back(std::make_unique<Loop>(options));
  }
  if (proxied_) resolver_ = std::make_unique<Resolver>(this);
}

// The resolver's threads stop first (they hand requests to the loops); the
// object itself stays until the loops are gone, answering kShutdown.
CurlHttpClient::~CurlHttpClient() {
  if (resolver_ != nullptr) resolver_->Stop();
  loops_.clear();
  resolver_.reset();
}

void CurlHttpClient::Send(HttpRequest request, Callback done) {
  // Only measured requests pay for the clock.
  SentAt sent;
  if (request.metrics != nullptr) {
    request.metrics->Started();
    sent = Clock::now();
  }
  if (proxied_ && !request.allow_private_addresses) {
    resolver_->Check(std::move(request), std::move(done), sent);
    return;
  }
  SendToLoop(std::move(request), std::move(done), sent);
}

void CurlHttpClient::SendToLoop(HttpRequest request, Callback done, SentAt sent) {
  Loop* loop = loops_.front().get();
  if (loops_.size() > 1) {
    if (MayMultiplex(request)) {
      // One loop per origin, so that its HTTP/2 connection carries them all
      // (without an origin: the first loop).
      if (!request.origin.empty()) {
        loop = loops_[absl::HashOf(request.origin) % loops_.size()].get();
      }
    } else {
      // HTTP/1.1: a connection per transfer anyway; the least busy loop.
      for (const auto& l : loops_) {
        if (l->Load() < loop->Load()) loop = l.get();
      }
    }
  }
  loop->Send(std::move(request), std::move(done), sent);
}

}  // namespace herald::http
