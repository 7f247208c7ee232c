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
  // As async_read does: bytes arrive in pieces (1..64, sized by the data),
  // are appended to a buffer, and what the parser does not consume stays
  // at the front for the next put(). (Skipping unconsumed bytes instead
  // trips the parser's own assertions: a harness bug, found that way.)
  std::string buffer;
  size_t offset = 0;
  while (!ec && !parser.is_done()) {
    if (offset < size) {
      const size_t piece = std::min<size_t>(size - offset, 1 + data[offset] % 64);
      buffer.append(reinterpret_cast<const char*>(data + offset), piece);
      offset += piece;
    } else if (buffer.empty()) {
      break;
    }
    const size_t used = parser.put(boost::asio::buffer(buffer), ec);
    buffer.erase(0, used);
    if (used == 0 && !ec && offset >= size) break;  // no progress left to make
    if (ec == http::error::need_more) {
      ec = {};
      if (offset >= size) {
        // The end of the input: what a closed connection tells the parser.
        parser.put_eof(ec);
        break;
      }
    }
  }
  if (!ec && parser.is_done()) {
    const auto& req = parser.get();
    (void)req.target();
    (void)req.keep_alive();
  }
  return 0;
}
