// APNs (`type: apns`): Apple's HTTP/2 provider API with token (JWT, .p8 key)
// or certificate authentication. Config keys and payloads follow Sygnal's.
//
// Threads: Push() runs on a work-pool thread; the HTTP answer, the
// classification and `done` on the HTTP client's loop thread. ApnsTokenCache
// is locked and shared by every provider (and reload) using one key.
// An outcome known before sending (rejected pushkey, skipped, deadline
// passed) calls `done` right away, on the pool thread.
#pragma once

#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "common/executor.h"
#include "http/http_client.h"
#include "http/upstream_metrics.h"
#include "providers/apns/apns_token.h"
#include "providers/common/credential.h"
#include "providers/common/jws.h"
#include "providers/common/push_helpers.h"

namespace herald::providers::apns {

inline constexpr char kProductionUrl[] = "https://api.push.apple.com";
inline constexpr char kSandboxUrl[] = "https://api.sandbox.push.apple.com";

struct ApnsOptions {
  CommonAppOptions common;
  std::string base_url;  // from `platform`, or `endpoint`
  std::string keyfile;   // token auth
  std::string key_id;
  std::string team_id;
  std::string certfile;               // certificate auth (PEM: certificate and key)
  int64_t certificate_not_after = 0;  // certfile's expiry, Unix seconds (0: unknown)
  std::string topic;
  std::string push_type;  // apns-push-type; empty = not sent
  bool convert_device_token_to_hex = true;
  int max_connections = 4;
  // Sygnal 0.17's key: false sends no badge / unread counts.
  bool send_badge_counts = true;
};

// Reads and checks an app's keys (Sygnal's names). Errors go to map.Fail().
ApnsOptions ReadApnsOptions(ConfigMap& map);

// Upstream answer → outcome (design.md, "Outcome rules": APNs row).
struct ApnsClassification {
  Outcome outcome;
  bool provider_token_expired = false;  // 403 ExpiredProviderToken
};
ApnsClassification ClassifyApnsResponse(const http::HttpResponse& response, absl::Time now);

// The provider token (JWT) shared by all requests of one key: made on first
// use and renewed after 50 minutes. Apple answers 429
// TooManyProviderTokenUpdates when a key's token changes more often than
// every 20 minutes and refuses tokens older than 60, so an
// ExpiredProviderToken renews only a token at least 20 minutes old.
class ApnsTokenCache {
 public:
  ApnsTokenCache(SigningKey key, std::string key_id, std::string team_id);
  // The current token, renewed if due. When renewing fails the failure is
  // logged and the previous token returned; the error only when there is no
  // previous token.
  absl::StatusOr<std::string> Get(absl::Time now);
  // Apple said `token` expired. True when a retry with Get()'s token may
  // help: another one is current already, or `token` is at least 20 minutes
  // old and the next Get() renews it (so a burst of 403s renews once).
  // False when renewing now would break Apple's 20-minute rule.
  bool Expired(const std::string& token, absl::Time now);
  int renewals() const;

  // The cache for this key: the same object while any provider holds it, so
  // a config reload with an unchanged key file keeps its token.
  static std::shared_ptr<ApnsTokenCache> Shared(SigningKey key, const std::string& key_id,
                                                const std::string& team_id);

 private:
  SigningKey key_;
  std::string key_id_;
  std::string team_id_;
  mutable absl::Mutex mu_;
  std::string token_ ABSL_GUARDED_BY(mu_);
  absl::Time issued_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool renew_ ABSL_GUARDED_BY(mu_) = false;
  int renewals_ ABSL_GUARDED_BY(mu_) = 0;
};

class ApnsProvider : public Provider {
 public:
  // `tokens` null: certificate auth. `clock` and `http` outlive the provider.
  ApnsProvider(std::string app_id, ApnsOptions options, std::shared_ptr<ApnsTokenCache> tokens,
               http::HttpClient* http, const Clock* clock = &Clock::Real());
  ~ApnsProvider() override;
  void Push(const PushRequest& request, std::function<void(Outcome)> done) override;

 private:
  struct Send;
  class TokenCredential;
  void Attempt(const std::shared_ptr<Send>& send);

  std::string app_id_;
  ApnsOptions options_;
  std::unique_ptr<TokenCredential> credential_;  // null with certificate auth
  http::HttpClient* http_;
  const Clock* clock_;
  const http::UpstreamMetrics* metrics_;
};

// A random (v4) UUID in lower case, for apns-id.
std::string NewUuid();

}  // namespace herald::providers::apns
