#include "http/curl_resolver.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/executor.h"
#include "http/curl_transfer.h"
#include "http/endpoint.h"
#include "http/private_address.h"

namespace herald::http {

using curl::RecordEnd;

void CurlHttpClient::Resolver::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void CurlHttpClient::Resolver::Check(HttpRequest request, Callback done, SentAt sent) {
  Job job{std::move(request), std::move(done), sent, MonotonicNow()};
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      if (threads_.empty()) {
        for (int i = 0; i < kThreads; ++i) threads_.emplace_back([this] { Run(); });
      }
      queue_.push_back(std::move(job));
      return;
    }
  }
  Answer(job, TransportError::kShutdown, "HTTP client is shutting down");
}

void CurlHttpClient::Resolver::Answer(Job& job, TransportError error, std::string detail) {
  HttpResponse r;
  r.error = error;
  r.error_detail = std::move(detail);
  RecordEnd(job.request, job.sent, r);
  job.done(std::move(r));
}

void CurlHttpClient::Resolver::Run() {
  while (true) {
    std::optional<Job> job;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Resolver* r)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) { return r->stopping_ || !r->queue_.empty(); },
          this));
      if (queue_.empty()) return;  // stopping, nothing left
      job.emplace(std::move(queue_.front()));
      queue_.pop_front();
    }
    Decide(std::move(*job));  // answers kShutdown, without a lookup, when stopping
  }
}

void CurlHttpClient::Resolver::Decide(Job job) {
  if (Stopping()) return Answer(job, TransportError::kShutdown, "HTTP client is shutting down");
  // The wait here counts against the request's own timeout.
  if (MonotonicNow() - job.queued >= job.request.timeout) {
    return Answer(job, TransportError::kTimeout, "timed out waiting for a DNS lookup");
  }
  std::optional<HttpEndpoint> endpoint = ParseHttpEndpoint(job.request.url);
  std::string host = endpoint ? endpoint->host : "";
  std::string port = !endpoint                                      ? ""
                     : !endpoint->port.empty()                      ? endpoint->port
                     : absl::StartsWith(endpoint->origin, "https:") ? "443"
                                                                    : "80";
  const std::string name =
      host.size() > 2 && host.front() == '[' ? host.substr(1, host.size() - 2) : host;
  const Verdict verdict = Lookup(name);
  if (!verdict.resolved) {
    return Answer(job, TransportError::kConnect,
                  absl::StrCat("cannot resolve ", name.empty() ? "the URL's host" : name));
  }
  if (verdict.public_ip.empty()) {
    return Answer(job, TransportError::kRefusedAddress,
                  absl::StrCat("refused to connect to private address ", verdict.private_ip));
  }
  const bool v6 = verdict.public_ip.find(':') != std::string::npos;
  job.request.connect_to = absl::StrCat(host, ":", port, ":", v6 ? "[" : "", verdict.public_ip,
                                        v6 ? "]" : "", ":", port);
  client_->SendToLoop(std::move(job.request), std::move(job.done), job.sent);
}

bool CurlHttpClient::Resolver::Stopping() {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

CurlHttpClient::Resolver::Verdict CurlHttpClient::Resolver::Lookup(const std::string& host) {
  {
    absl::MutexLock lock(&cache_mu_);
    if (auto it = cache_.find(host); it != cache_.end() && it->second.until > MonotonicNow()) {
      return it->second;
    }
  }
  Verdict v;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (!host.empty() && getaddrinfo(host.c_str(), nullptr, &hints, &found) == 0) {
    v.resolved = true;
    for (addrinfo* a = found; a != nullptr && v.public_ip.empty(); a = a->ai_next) {
      char text[INET6_ADDRSTRLEN] = {};
      const void* addr =
          a->ai_family == AF_INET
              ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
              : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
      if (inet_ntop(a->ai_family, addr, text, sizeof(text)) == nullptr) continue;
      if (IsPrivateAddress(text)) {
        if (v.private_ip.empty()) v.private_ip = text;
      } else {
        v.public_ip = text;
      }
    }
    freeaddrinfo(found);
  }
  // From the end of the lookup: a slow failure is not expired on arrival.
  v.until = MonotonicNow() + (v.resolved ? kKeep : kKeepFailure);
  absl::MutexLock lock(&cache_mu_);
  if (cache_.size() > 10000) cache_.clear();
  cache_[host] = v;
  return v;
}

}  // namespace herald::http
