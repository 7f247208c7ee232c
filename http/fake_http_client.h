// An HttpClient for in-process tests: records every request and answers it
// from a script, at once (on the sending thread) or when the test releases
// it. Thread-safe.
#pragma once

#include <deque>
#include <functional>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "http/http_client.h"

namespace herald::http {

class FakeHttpClient final : public HttpClient {
 public:
  // Answers what is still held with kShutdown, as CurlHttpClient does.
  ~FakeHttpClient() override;

  // What a request not covered by Queue() is answered: 200 with no body
  // unless set.
  using Responder = std::function<HttpResponse(const HttpRequest&)>;
  void SetResponder(Responder responder);
  // Answers for the next requests, in order; then the responder.
  void Queue(HttpResponse response);
  void QueueStatus(int status, std::string body = "", HttpHeaders headers = {});
  void QueueError(TransportError error);

  // While held, answers wait until Release() (which sends them in order;
  // a Send() racing with Release() may be answered before the held ones).
  void Hold();
  void Release();
  size_t held() const;

  // Every request sent so far.
  std::vector<HttpRequest> requests() const;

  void Send(HttpRequest request, Callback done) override;

 private:
  mutable absl::Mutex mu_;
  Responder responder_ ABSL_GUARDED_BY(mu_);
  std::deque<HttpResponse> queued_ ABSL_GUARDED_BY(mu_);
  bool holding_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::pair<Callback, HttpResponse>> held_ ABSL_GUARDED_BY(mu_);
  std::vector<HttpRequest> requests_ ABSL_GUARDED_BY(mu_);
};

// An answer with this status, body and headers (names lower case).
HttpResponse StatusResponse(int status, std::string body = "", HttpHeaders headers = {});

}  // namespace herald::http
