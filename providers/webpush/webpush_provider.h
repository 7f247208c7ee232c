// Web Push (`type: webpush`): RFC 8030 delivery, RFC 8291 message encryption,
// RFC 8292 VAPID. Config keys follow Sygnal's.
//
// Threads: Push() runs on a work-pool thread (the encryption and the VAPID
// signature are done there); the HTTP answer and `done` on the HTTP client's
// loop thread (or on the resolver's thread when a proxied endpoint's host is
// refused). The VAPID token cache is locked.
// An outcome known before sending (rejected pushkey, skipped, deadline
// passed) calls `done` right away, on the pool thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "http/endpoint.h"
#include "http/http_client.h"
#include "http/upstream_metrics.h"
#include "providers/common/jws.h"
#include "providers/common/push_helpers.h"

namespace herald::providers::webpush {

struct WebPushOptions {
  CommonAppOptions common;
  std::string vapid_private_key;  // path to a PEM EC P-256 key
  std::string vapid_contact_email;
  std::vector<std::string> allowed_endpoints;  // host globs; empty = any
  int64_t ttl_seconds = 900;
  bool events_only = false;
  bool only_last_per_room = false;
  bool allow_private_addresses = false;
  // Sygnal's connection pool size per push service; 0 = the shared client
  // (no cap).
  int max_connections = 0;
};
WebPushOptions ReadWebPushOptions(ConfigMap& map);

// Upstream answer → outcome (design.md, "Outcome rules": Web Push row).
Outcome ClassifyWebPushResponse(const http::HttpResponse& response, absl::Time now);

// VAPID tokens, one per push-service origin, reused until an hour before
// they expire (they are made valid for 12 hours; RFC 8292 allows 24).
class VapidTokens {
 public:
  VapidTokens(SigningKey key, std::string subject);
  // "vapid t=<jwt>, k=<public key>" for `origin`, or why it cannot be signed.
  absl::StatusOr<std::string> AuthorizationFor(const std::string& origin, absl::Time now);
  const std::string& public_key_b64url() const { return public_key_; }

 private:
  SigningKey key_;
  std::string subject_;
  std::string public_key_;
  absl::Mutex mu_;
  struct Entry {
    std::string header;
    absl::Time renew_at;
  };
  std::map<std::string, Entry> by_origin_ ABSL_GUARDED_BY(mu_);
};

class WebPushProvider : public Provider {
 public:
  WebPushProvider(std::string app_id, WebPushOptions options, std::unique_ptr<VapidTokens> vapid,
                  http::HttpClient* http);
  void Push(const PushRequest& request, std::function<void(Outcome)> done) override;

 private:
  std::string app_id_;
  WebPushOptions options_;
  http::HostAllowList allowed_;
  std::unique_ptr<VapidTokens> vapid_;
  http::HttpClient* http_;
  const http::UpstreamMetrics* metrics_;
};

// The base64url public key clients must subscribe with, for the app `app_id`
// in the config file (herald-dispatcher --print-vapid-public-key).
absl::StatusOr<std::string> VapidPublicKeyForApp(const std::string& config_file,
                                                 const std::string& app_id);

// VAPID (RFC 8292): header {"typ":"JWT","alg":"ES256"}, claims
// {"aud":AUDIENCE,"exp":EXP,"sub":SUBJECT}. Needs an EC P-256 key; audience
// and subject must be non-empty. The caller keeps exp within 24 h of now.
absl::StatusOr<std::string> MakeVapidJwt(const SigningKey& key, absl::string_view audience,
                                         int64_t exp, absl::string_view subject);

}  // namespace herald::providers::webpush
