// A fast stand-in push service for benchmarks: HTTP/1.1 keep-alive (Boost.Beast,
// async), answers every POST at once or after --delay-ms. Paths decide the answer:
//   .../gone...   → 410 (a dead pushkey)
//   .../flaky...  → 503 (transient)
//   /token        → an OAuth2 access token (FCM's token endpoint)
//   anything else → 200 {} (APNs, FCM, UnifiedPush) — 201 for /push/... (Web Push)
//   fast_upstream --port 18080 [--delay-ms 0] [--threads 1]
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

int g_delay_ms = 0;

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket socket)
      : stream_(std::move(socket)), timer_(stream_.get_executor()) {}
  void Run() { Read(); }

 private:
  void Read() {
    req_ = {};
    http::async_read(stream_, buffer_, req_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->Close();
                       if (g_delay_ms > 0) {
                         self->timer_.expires_after(std::chrono::milliseconds(g_delay_ms));
                         self->timer_.async_wait([self](beast::error_code) { self->Answer(); });
                       } else {
                         self->Answer();
                       }
                     });
  }

  void Answer() {
    beast::string_view target = req_.target();
    http::status status = http::status::ok;
    std::string body = "{}";
    if (target.find("gone") != beast::string_view::npos) {
      status = http::status::gone;
      body = R"({"reason":"Unregistered"})";
    } else if (target.find("flaky") != beast::string_view::npos) {
      status = http::status::service_unavailable;
      body = R"({"reason":"ServiceUnavailable"})";
    } else if (target == "/token") {
      body = R"({"access_token":"bench-token","expires_in":3599,"token_type":"Bearer"})";
    } else if (target.starts_with("/push/")) {
      status = http::status::created;
      body.clear();
    }
    res_ = {};
    res_.result(status);
    res_.version(req_.version());
    res_.keep_alive(req_.keep_alive());
    res_.set(http::field::content_type, "application/json");
    res_.body() = std::move(body);
    res_.prepare_payload();
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec || !self->res_.keep_alive()) return self->Close();
      self->Read();
    });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
};

void Accept(tcp::acceptor& acceptor, asio::io_context& ioc) {
  acceptor.async_accept(asio::make_strand(ioc), [&](beast::error_code ec, tcp::socket socket) {
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      std::make_shared<Session>(std::move(socket))->Run();
    }
    Accept(acceptor, ioc);
  });
}

}  // namespace

int main(int argc, char** argv) {
  int port = 18080, threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--port")) port = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--delay-ms")) g_delay_ms = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
  }
  asio::io_context ioc(threads);
  tcp::acceptor acceptor(ioc);
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port));
  acceptor.open(endpoint.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(asio::socket_base::max_listen_connections);
  Accept(acceptor, ioc);
  std::cout << "fast_upstream listening on 127.0.0.1:" << port << std::endl;
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
}
