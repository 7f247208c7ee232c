// The bridge's HTTP/1.1 request parsing: Boost.Beast's parser with the
// bridge's limits (16 KiB of headers, the body limit), fed any bytes, in
// pieces as a socket would deliver them.
#include <cstddef>
#include <cstdint>
#include <string>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  http::request_parser<http::string_body> parser;
  parser.body_limit(4096);
  parser.header_limit(16 * 1024);
  boost::beast::error_code ec;
  size_t offset = 0;
  // Pieces of 1..64 bytes, sized by the data itself.
  while (offset < size && !ec && !parser.is_done()) {
    const size_t piece = std::min<size_t>(size - offset, 1 + data[offset] % 64);
    size_t used = parser.put(boost::asio::buffer(data + offset, piece), ec);
    if (ec == http::error::need_more) {
      ec = {};
      if (used == 0 && piece == size - offset) break;
    }
    offset += used == 0 ? piece : used;
  }
  if (!ec && parser.is_done()) {
    const auto& req = parser.get();
    (void)req.target();
    (void)req.keep_alive();
  }
  return 0;
}
