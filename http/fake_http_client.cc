#include "http/fake_http_client.h"

#include <utility>

namespace herald::http {

HttpResponse StatusResponse(int status, std::string body, HttpHeaders headers) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

FakeHttpClient::~FakeHttpClient() {
  std::vector<std::pair<Callback, HttpResponse>> held;
  {
    absl::MutexLock lock(&mu_);
    held.swap(held_);
  }
  for (auto& [done, ignored] : held) {
    HttpResponse gone;
    gone.error = TransportError::kShutdown;
    gone.error_detail = "HTTP client is shutting down";
    done(std::move(gone));
  }
}

void FakeHttpClient::SetResponder(Responder responder) {
  absl::MutexLock lock(&mu_);
  responder_ = std::move(responder);
}

void FakeHttpClient::Queue(HttpResponse response) {
  absl::MutexLock lock(&mu_);
  queued_.push_back(std::move(response));
}

void FakeHttpClient::QueueStatus(int status, std::string body, HttpHeaders headers) {
  Queue(StatusResponse(status, std::move(body), std::move(headers)));
}

void FakeHttpClient::QueueError(TransportError error) {
  HttpResponse r;
  r.error = error;
  r.error_detail = TransportErrorName(error);
  Queue(std::move(r));
}

void FakeHttpClient::Hold() {
  absl::MutexLock lock(&mu_);
  holding_ = true;
}

void FakeHttpClient::Release() {
  std::vector<std::pair<Callback, HttpResponse>> held;
  {
    absl::MutexLock lock(&mu_);
    holding_ = false;
    held.swap(held_);
  }
  for (auto& [done, response] : held) done(std::move(response));
}

size_t FakeHttpClient::held() const {
  absl::MutexLock lock(&mu_);
  return held_.size();
}

std::vector<HttpRequest> FakeHttpClient::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

void FakeHttpClient::Send(HttpRequest request, Callback done) {
  HttpResponse response;
  Responder responder;
  {
    absl::MutexLock lock(&mu_);
    requests_.push_back(request);
    if (!queued_.empty()) {
      response = std::move(queued_.front());
      queued_.pop_front();
    } else if (responder_) {
      responder = responder_;
    } else {
      response = StatusResponse(200);
    }
  }
  if (responder) response = responder(request);
  {
    absl::MutexLock lock(&mu_);
    if (holding_) {
      held_.emplace_back(std::move(done), std::move(response));
      return;
    }
  }
  done(std::move(response));
}

}  // namespace herald::http
