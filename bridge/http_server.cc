#include "bridge/http_server.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bridge/dispatch_client.h"
#include "bridge/http_session.h"
#include "common/log.h"
#include "common/metrics.h"

namespace herald::bridge {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

constexpr char kComponent[] = "bridge";

// At http.max_connections: a newcomer took the place of the longest-idle
// connection (evicted_idle), or was closed because none was idle (refused).
Counter* ConnectionsAtLimit(bool evicted) {
  static Counter* const counters[] = {
      Metrics::Global().GetCounter(
          "herald_http_connections_at_limit_total",
          "Connections over http.max_connections: refused, or the longest-idle closed for them.",
          Labels({{"action", "refused"}})),
      Metrics::Global().GetCounter("herald_http_connections_at_limit_total", "",
                                   Labels({{"action", "evicted_idle"}})),
  };
  return counters[evicted];
}

}  // namespace

class HttpServer::Impl {
 public:
  Impl(const Config& config, std::unique_ptr<DispatchClient> client)
      : config_(config), ioc_(config.http.io_threads), client_(std::move(client)) {
    shared_.dispatcher_ready = [c = client_.get()] { return c->Ready(); };
    shared_.client = client_.get();
    shared_.deadlines = &deadlines_;
    shared_.idle = &idle_;
    shared_.notifies = &notifies_;
    shared_.deadline = config.dispatcher.deadline;
    shared_.max_body_bytes = static_cast<uint64_t>(config.http.max_body_bytes);
    shared_.metrics_on_notify_port = MetricsOnNotifyPort(config);
    shared_.header_timeout = absl::ToChronoNanoseconds(config.http.header_timeout);
    shared_.body_timeout = absl::ToChronoNanoseconds(config.http.body_timeout);
    shared_.max_connections = config.http.max_connections;
    shared_.access_log = config.log_access.enabled;
    shared_.x_forwarded_for = config.log_access.x_forwarded_for;
  }

  absl::Status Start() {
    if (!config_.http.tls_cert_file.empty()) {
      absl::Status tls = LoadTls();
      if (!tls.ok()) return tls;
    }
    std::vector<asio::ip::address> ips;
    bool listens_on_any_v4 = false;
    for (const std::string& address : config_.http.bind_addresses) {
      beast::error_code ec;
      ips.push_back(asio::ip::make_address(address, ec));
      if (ec) {
        return absl::InvalidArgumentError(
            absl::StrCat("http.bind_addresses: '", address, "' is not an IP address"));
      }
      listens_on_any_v4 = listens_on_any_v4 || (ips.back().is_v4() && ips.back().is_unspecified());
    }
    for (size_t i = 0; i < ips.size(); ++i) {
      const asio::ip::address& ip = ips[i];
      const std::string& address = config_.http.bind_addresses[i];
      beast::error_code ec;
      tcp::endpoint endpoint(ip, static_cast<unsigned short>(config_.http.port));
      auto acceptor = std::make_unique<tcp::acceptor>(ioc_);
      acceptor->open(endpoint.protocol(), ec);
      if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
      // "::" takes IPv4 as well, as under Sygnal (Twisted), unless 0.0.0.0
      // is listed too and will take it itself.
      const bool dual_stack = ip.is_v6() && ip.is_unspecified() && !listens_on_any_v4;
      if (!ec && ip.is_v6()) acceptor->set_option(asio::ip::v6_only(!dual_stack), ec);
      if (!ec) acceptor->bind(endpoint, ec);
      if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
      if (ec) {
        return absl::UnavailableError(
            absl::StrCat("cannot listen on ", address, ":", config_.http.port, ": ", ec.message()));
      }
      acceptors_.push_back(std::move(acceptor));
    }
    for (auto& acceptor : acceptors_) Accept(acceptor.get());
    CheckDeadlines();
    for (int i = 0; i < config_.http.io_threads; ++i) {
      threads_.emplace_back([this] { ioc_.run(); });
    }
    return absl::OkStatus();
  }

  // http.tls_cert_file / tls_key_file: TLS 1.2 and later on the listener.
  absl::Status LoadTls() {
    tls_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    tls_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                      asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                      asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
    beast::error_code ec;
    tls_->use_certificate_chain_file(config_.http.tls_cert_file, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("http.tls_cert_file: ", config_.http.tls_cert_file, ": ", ec.message()));
    }
    tls_->use_private_key_file(config_.http.tls_key_file, asio::ssl::context::pem, ec);
    if (!ec && SSL_CTX_check_private_key(tls_->native_handle()) != 1) {
      ec = beast::error_code(static_cast<int>(ERR_get_error()), asio::error::get_ssl_category());
    }
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("http.tls_key_file: ", config_.http.tls_key_file, ": ", ec.message()));
    }
    shared_.tls = tls_.get();
    return absl::OkStatus();
  }

  int port() const { return acceptors_.empty() ? 0 : acceptors_.front()->local_endpoint().port(); }

  void Stop(absl::Duration drain) {
    shared_.stopping.store(true);
    asio::post(ioc_, [this] {
      for (auto& acceptor : acceptors_) {
        beast::error_code ec;
        acceptor->close(ec);
      }
    });
    // Keep-alive connections waiting for a request go now, so that their
    // clients reconnect to another bridge; busy ones close after their answer.
    idle_.CloseAll();
    notifies_.WaitForNone(drain);
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  ~Impl() {
    if (!threads_.empty()) Stop(absl::ZeroDuration());
  }

 private:
  void Accept(tcp::acceptor* acceptor) {
    acceptor->async_accept(
        asio::make_strand(ioc_), [this, acceptor](beast::error_code ec, tcp::socket socket) {
          if (ec == asio::error::operation_aborted) return;
          const bool full = !ec && shared_.connections->value() >= shared_.max_connections;
          std::shared_ptr<Session> evicted = full ? idle_.TakeOldest() : nullptr;
          if (full && evicted == nullptr) {
            // Full of busy connections: refuse the newcomer
            // rather than take every descriptor.
            NoteConnectionLimit(false);
            beast::error_code ignored;
            socket.close(ignored);
          } else if (!ec) {
            beast::error_code ignored;
            socket.set_option(tcp::no_delay(true), ignored);
            if (evicted != nullptr) NoteConnectionLimit(true);
            StartSession(std::move(socket), &shared_, evicted);
          }
          if (acceptor->is_open()) Accept(acceptor);
        });
  }

  // Counted each time; logged at most once a minute of each kind: a flood of
  // connections must not flood the log.
  void NoteConnectionLimit(bool evicting) {
    ConnectionsAtLimit(evicting)->Add();
    const int64_t now = absl::ToUnixSeconds(absl::Now());
    std::atomic<int64_t>& last_log = last_full_log_[evicting];
    int64_t last = last_log.load();
    if (now - last >= 60 && last_log.compare_exchange_strong(last, now)) {
      HERALD_LOG(
          kWarning, kComponent, shared_.max_connections,
          " connections open (http.max_connections): ",
          evicting ? "closing the longest idle to take new ones" : "none idle, refusing new ones");
    }
  }

  // Every 50 ms: requests past the deadline get 504 (at most 50 ms late).
  void CheckDeadlines() {
    deadlines_.TimeOutDue(Deadlines::Clock::now());
    deadline_timer_.expires_after(std::chrono::milliseconds(50));
    deadline_timer_.async_wait([this](beast::error_code ec) {
      if (!ec) CheckDeadlines();
    });
  }

  const Config& config_;
  asio::io_context ioc_;
  asio::steady_timer deadline_timer_{ioc_};
  std::unique_ptr<asio::ssl::context> tls_;  // outlives the sessions using it
  // All outlive client_: its destructor ends the streams, and their
  // callbacks still read shared_ (a draining answer is sent again). shared_
  // outlives the lists too: sessions still on them read it as they go.
  ServerShared shared_;
  Deadlines deadlines_;
  IdleSessions idle_;
  NotifyCount notifies_;
  std::unique_ptr<DispatchClient> client_;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
  std::vector<std::thread> threads_;
  std::atomic<int64_t> last_full_log_[2] = {0, 0};  // refusing, evicting
};

HttpServer::HttpServer(const Config& config, std::unique_ptr<DispatchClient> client)
    : impl_(std::make_unique<Impl>(config, std::move(client))) {}
HttpServer::~HttpServer() = default;
absl::Status HttpServer::Start() { return impl_->Start(); }
int HttpServer::port() const { return impl_->port(); }
void HttpServer::Stop(absl::Duration drain) { impl_->Stop(drain); }

}  // namespace herald::bridge
