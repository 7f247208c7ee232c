// Internal to CurlHttpClient: one libcurl transfer (its state and the
// callbacks libcurl calls for it on the loop thread), the multi handles that
// run transfers, and the bookkeeping every request ends with.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <string>

#include "absl/time/time.h"
#include "http/http_client.h"

namespace herald::http::curl {

using Clock = std::chrono::steady_clock;

// Every request ends here, exactly once, before its callback runs (so a
// caller that saw the answer sees it counted): its time since Send(), its
// status (or "error"), one fewer in flight.
void RecordEnd(const HttpRequest& request, Clock::time_point sent, const HttpResponse& response);

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

// libcurl's write, header and pre-request callbacks; `user` is the Transfer.
size_t OnBody(char* data, size_t size, size_t n, void* user);
size_t OnHeader(char* data, size_t size, size_t n, void* user);
// Runs once a connection is ready (new or reused), before the request goes
// out: the one place where the peer address is known for certain.
int OnPrereq(void* user, char* conn_primary_ip, char* /*conn_local_ip*/, int /*conn_primary_port*/,
             int /*conn_local_port*/);

// Over TLS (ALPN may pick HTTP/2) or with h2c by prior knowledge, a request
// may share a connection with others to its origin.
bool MayMultiplex(const HttpRequest& r);

// The transport error a libcurl result code means.
TransportError Classify(CURLcode code);

}  // namespace herald::http::curl
