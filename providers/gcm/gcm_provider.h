// FCM HTTP v1 (`type: gcm`, `api_version: v1`): Google service-account
// OAuth2 and Sygnal-compatible data messages.
//
// Threads: Push() runs on a work-pool thread; the answers to the OAuth token
// fetch and to the send, and `done`, on the HTTP client's loop thread. The
// access token is locked and shared by the app's pushes.
// An outcome known before sending (rejected pushkey, skipped, deadline
// passed) calls `done` right away, on the pool thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/executor.h"
#include "http/http_client.h"
#include "http/upstream_metrics.h"
#include "providers/common/credential.h"
#include "providers/common/jws.h"
#include "providers/common/push_helpers.h"
#include "providers/gcm/fcm_message.h"

namespace herald::providers::gcm {

inline constexpr char kDefaultEndpoint[] = "https://fcm.googleapis.com";
inline constexpr char kDefaultTokenUri[] = "https://oauth2.googleapis.com/token";
inline constexpr char kFcmScope[] = "https://www.googleapis.com/auth/firebase.messaging";

struct ServiceAccount {
  std::string client_email;
  std::string token_uri;
  std::shared_ptr<SigningKey> key;  // RSA
};
// Reads a Google service-account JSON file.
absl::StatusOr<ServiceAccount> LoadServiceAccount(const std::string& path);

struct GcmOptions {
  CommonAppOptions common;
  std::string endpoint = kDefaultEndpoint;
  std::string project_id;
  std::string service_account_file;
  std::string fcm_options_json;  // "" = none
  int max_connections = 4;
  // Sygnal 0.17's key: false sends no badge / unread counts.
  bool send_badge_counts = true;
};
GcmOptions ReadGcmOptions(ConfigMap& map);

// Upstream answer → outcome (design.md, "Outcome rules": FCM v1 row).
struct FcmClassification {
  Outcome outcome;
  bool unauthorized = false;  // 401: the access token was refused
};
FcmClassification ClassifyFcmResponse(const http::HttpResponse& response, absl::Time now);

// One OAuth2 access token shared by all pushes of an app: fetched when first
// needed and again shortly before it expires. Pushes arriving during a fetch
// wait for that one fetch; there is never a token request per push.
class AccessTokenSource final : public Credential {
 public:
  AccessTokenSource(ServiceAccount account, http::HttpClient* http, std::string ca_file,
                    absl::Duration timeout, const http::UpstreamMetrics* metrics = nullptr,
                    const Clock* clock = &Clock::Real());
  // `done` runs on this thread (token cached) or on the HTTP client's thread.
  void Get(Callback done) override;
  // The token was refused by FCM: the next Get() fetches a new one (once per
  // token). Always worth one more try.
  bool Refused(const std::string& token) override;

 private:
  void Fetch();  // without mu_ held
  void OnFetched(http::HttpResponse response);
  // Ends a fetch: the token (kept `lifetime`) or why there is none, to
  // every waiter.
  void Deliver(absl::StatusOr<std::string> result, absl::Duration lifetime);

  ServiceAccount account_;
  http::HttpClient* http_;
  std::string ca_file_;
  absl::Duration timeout_;
  const http::UpstreamMetrics* metrics_;  // of the token endpoint's answers
  const Clock* clock_;
  mutable absl::Mutex mu_;
  std::string token_ ABSL_GUARDED_BY(mu_);
  absl::Time refresh_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();  // monotonic
  bool fetching_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<Callback> waiters_ ABSL_GUARDED_BY(mu_);
};

class GcmProvider : public Provider {
 public:
  // `tokens` null only in tests that never push. `http` and `clock` outlive it.
  GcmProvider(std::string app_id, GcmOptions options, std::unique_ptr<AccessTokenSource> tokens,
              http::HttpClient* http, const Clock* clock = &Clock::Real());
  void Push(const PushRequest& request, std::function<void(Outcome)> done) override;

 private:
  struct Send;
  void Attempt(const std::shared_ptr<Send>& send);

  std::string app_id_;
  GcmOptions options_;
  const FcmOptions fcm_options_;  // options_.fcm_options_json, prepared
  std::string url_;
  std::unique_ptr<AccessTokenSource> tokens_;
  http::HttpClient* http_;
  const Clock* clock_;
  const http::UpstreamMetrics* metrics_;
};

// Google service-account assertion (OAuth 2.0 JWT bearer grant): header
// {"alg":"RS256","typ":"JWT"}, claims
// {"iss":EMAIL,"scope":SCOPE,"aud":TOKEN_URI,"iat":IAT,"exp":EXP}. Needs an
// RSA key; strings must be non-empty and iat < exp <= iat + 3600 (Google
// rejects longer-lived assertions).
absl::StatusOr<std::string> MakeGoogleOAuthJwt(const SigningKey& key,
                                               absl::string_view client_email,
                                               absl::string_view scope, absl::string_view token_uri,
                                               int64_t iat, int64_t exp);

}  // namespace herald::providers::gcm
