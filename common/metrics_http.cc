#include "common/metrics_http.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/metrics.h"

namespace herald {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket socket) : stream_(std::move(socket)) {}
  void Read() {
    req_ = {};
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, req_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return;
                       self->Answer();
                     });
  }

 private:
  void Answer() {
    res_ = {};
    res_.version(req_.version());
    res_.keep_alive(req_.keep_alive());
    beast::string_view target = req_.target();
    target = target.substr(0, target.find('?'));
    if (req_.method() != http::verb::get) {
      res_.result(http::status::method_not_allowed);
      res_.set(http::field::allow, "GET");
    } else if (target == "/metrics") {
      res_.set(http::field::content_type, "text/plain; version=0.0.4");
      res_.body() = Metrics::Global().Render();
    } else if (target == "/health") {
      res_.set(http::field::content_type, "application/json");
      res_.body() = R"({"status":"ok"})";
    } else {
      res_.result(http::status::not_found);
    }
    res_.prepare_payload();
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (!ec && self->res_.keep_alive()) self->Read();
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
};

}  // namespace

class MetricsHttpServer::Impl {
 public:
  ~Impl() {
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }

  absl::Status Start(const std::string& address) {
    size_t colon = address.rfind(':');
    int port = 0;
    if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port)) {
      return absl::InvalidArgumentError(absl::StrCat("'", address, "' is not host:port"));
    }
    std::string host = address.substr(0, colon);
    if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
    beast::error_code ec;
    auto ip = asio::ip::make_address(host, ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat("'", host, "' is not an IP address"));
    tcp::endpoint endpoint(ip, static_cast<unsigned short>(port));
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(64, ec);
    if (ec)
      return absl::UnavailableError(absl::StrCat("cannot listen on ", address, ": ", ec.message()));
    Accept();
    thread_ = std::thread([this] { ioc_.run(); });
    return absl::OkStatus();
  }

  int port() const { return acceptor_.local_endpoint().port(); }

 private:
  void Accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) std::make_shared<Session>(std::move(socket))->Read();
      Accept();
    });
  }

  asio::io_context ioc_{1};
  tcp::acceptor acceptor_{ioc_};
  std::thread thread_;
};

MetricsHttpServer::MetricsHttpServer() : impl_(std::make_unique<Impl>()) {}
MetricsHttpServer::~MetricsHttpServer() = default;
absl::Status MetricsHttpServer::Start(const std::string& address) { return impl_->Start(address); }
int MetricsHttpServer::port() const { return impl_->port(); }

}  // namespace herald
