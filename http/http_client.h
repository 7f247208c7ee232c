// The HTTP client interface providers push through, with its request,
// answer and options types.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace herald::http {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

class UpstreamMetrics;  // upstream_metrics.h

enum class HttpVersion {
  kAuto,                // HTTP/2 over TLS when offered (ALPN), else HTTP/1.1
  kHttp11,              // HTTP/1.1 only
  kHttp2PriorKnowledge  // HTTP/2 even in cleartext (h2c without upgrade)
};

struct HttpRequest {
  std::string method = "POST";
  std::string url;
  // scheme://host[:port] of `url` where the caller has parsed it already
  // (endpoint.h): a client with several loops keeps requests that may share
  // an HTTP/2 connection on one loop per origin. Empty: the first loop.
  std::string origin;
  HttpHeaders headers;
  std::string body;
  absl::Duration timeout = absl::Seconds(10);
  absl::Duration connect_timeout = absl::Seconds(5);  // never more than `timeout`
  HttpVersion version = HttpVersion::kAuto;
  std::string ca_file;  // empty: the system's CAs
  // Client certificate + key (PEM, one file) for mutual TLS; empty: none.
  std::string client_cert_file;
  // When false, connecting to loopback/private/link-local/multicast addresses
  // is refused at connect time (after DNS, so rebinding cannot dodge it).
  bool allow_private_addresses = true;
  // The sending app's metrics (UpstreamMetrics::For), recorded by the
  // client from Send() to completion; null: not measured.
  const UpstreamMetrics* metrics = nullptr;
  // Set by the client behind a proxy: "host:port:ip:port", the checked
  // address the tunnel must go to (CURLOPT_CONNECT_TO). Callers leave it.
  std::string connect_to;
};

enum class TransportError {
  kNone,
  kTimeout,
  kConnect,  // DNS, refused, unreachable
  kTls,
  kRefusedAddress,  // allow_private_addresses == false and the address was private
  kBadUrl,
  kShutdown,  // the client was destroyed first
  kOther,     // stream reset, GOAWAY, protocol error, ...
};

const char* TransportErrorName(TransportError e);

struct HttpResponse {
  TransportError error = TransportError::kNone;
  std::string error_detail;  // curl's message, never a credential
  int status = 0;
  HttpHeaders headers;  // names lower-cased
  std::string body;

  bool ok() const { return error == TransportError::kNone; }
  // First header with this lower-case name, or empty.
  absl::string_view Header(absl::string_view name) const;
};

struct HttpClientOptions {
  // Connections per host and loop (0 = unlimited). With HTTP/2 many
  // requests share one.
  long max_host_connections = 0;
  // Bytes of response body kept; more is dropped (we only classify answers).
  size_t max_response_body = 64 * 1024;
  // Event loops (threads, each with its own libcurl multi handles and
  // connections). HTTP/1.1 transfers go to the least busy loop; those that
  // may share an HTTP/2 connection stay on one loop per origin. libcurl's
  // cost per transfer grows with the connections one multi handle holds to
  // a host, so each loop also spreads HTTP/1.1 transfers over several multi
  // handles (one only when max_host_connections caps them), and thousands
  // of transfers at once want a second loop on a second core.
  int threads = 1;
  // HTTP CONNECT proxy (http://[user:pass@]host:port) every request is
  // tunnelled through; empty: none (environment variables are ignored).
  // With a proxy, requests that refuse private addresses have their
  // destination host resolved and checked before the tunnel is asked for:
  // the address a connection reaches is then the proxy's.
  std::string proxy;
};

// What providers send HTTP requests through. CurlHttpClient
// (curl_http_client.h) is the implementation; FakeHttpClient
// (fake_http_client.h) answers from a script in tests.
class HttpClient {
 public:
  virtual ~HttpClient() = default;

  using Callback = std::function<void(HttpResponse)>;
  // Queues the request; `done` runs exactly once, on a thread of the
  // client's (or on the calling thread), and must be quick: classify, then
  // hand off. Never blocks on the network.
  virtual void Send(HttpRequest request, Callback done) = 0;
};

}  // namespace herald::http
