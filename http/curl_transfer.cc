#include "http/curl_transfer.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "http/private_address.h"
#include "http/upstream_metrics.h"

namespace herald::http::curl {

// Every request ends here, exactly once, before its callback runs (so a
// caller that saw the answer sees it counted): its time since Send(), its
// status (or "error"), one fewer in flight.
void RecordEnd(const HttpRequest& request, Clock::time_point sent, const HttpResponse& response) {
  if (request.metrics == nullptr) return;
  request.metrics->Finished(response.ok() ? response.status : 0,
                            absl::FromChrono(Clock::now() - sent));
}

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

}  // namespace herald::http::curl
