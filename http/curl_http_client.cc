#include "http/curl_http_client.h"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "common/executor.h"
#include "common/log.h"
#include "http/curl_resolver.h"
#include "http/curl_transfer.h"
#include "http/endpoint.h"
#include "http/private_address.h"
#include "http/upstream_metrics.h"

namespace herald::http {

namespace {

using curl::Classify;
using curl::Clock;
using curl::MayMultiplex;
using curl::Multi;
using curl::OnBody;
using curl::OnHeader;
using curl::OnPrereq;
using curl::RecordEnd;
using curl::Transfer;

std::once_flag g_curl_init;

}  // namespace

// An event-loop thread, its epoll set and the libcurl multi handles it drives.
class CurlHttpClient::Loop {
 public:
  explicit Loop(const HttpClientOptions& options) : options_(options) {
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

CurlHttpClient::CurlHttpClient(const HttpClientOptions& options)
    : proxied_(!options.proxy.empty()) {
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
