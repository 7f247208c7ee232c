#include "providers/gcm/gcm_provider.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "providers/common/device_data.h"
#include "providers/gcm/fcm_message.h"
#include "rapidjson/document.h"

namespace herald::providers::gcm {
namespace {

constexpr char kComponent[] = "gcm";
// Fetch a new access token this long before the old one expires.
constexpr absl::Duration kRefreshMargin = absl::Minutes(5);
constexpr absl::Duration kAssertionLifetime = absl::Hours(1);

std::string StringMember(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return "";
  auto it = v.FindMember(name);
  if (it == v.MemberEnd() || !it->value.IsString()) return "";
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

}  // namespace

absl::StatusOr<ServiceAccount> LoadServiceAccount(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  rapidjson::Document doc;
  doc.Parse(buffer.str().c_str());
  if (doc.HasParseError() || !doc.IsObject()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a JSON object"));
  }
  ServiceAccount account;
  account.client_email = StringMember(doc, "client_email");
  account.token_uri = StringMember(doc, "token_uri");
  std::string private_key = StringMember(doc, "private_key");
  if (account.token_uri.empty()) account.token_uri = kDefaultTokenUri;
  if (account.client_email.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": client_email is missing"));
  }
  if (private_key.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": private_key is missing"));
  }
  absl::StatusOr<SigningKey> key = SigningKey::FromPem(private_key);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": private_key: ", key.status().message()));
  }
  if (!key->is_rsa()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": private_key must be an RSA key"));
  }
  account.key = std::make_shared<SigningKey>(*std::move(key));
  return account;
}

GcmOptions ReadGcmOptions(ConfigMap& map) {
  GcmOptions o;
  std::string api_version = absl::AsciiStrToLower(map.String("api_version", ""));
  bool legacy_key = map.Has("api_key");
  map.Accept("api_key");
  if (api_version == "legacy" || legacy_key || (api_version.empty() && !map.Has("project_id"))) {
    map.Fail("api_version",
             "the legacy FCM API was shut down by Google in 2024: set api_version: v1 with "
             "project_id and service_account_file");
    return o;
  }
  if (api_version != "v1" && !api_version.empty()) {
    map.Fail("api_version", "must be v1");
    return o;
  }
  o.common = ReadCommonAppOptions(map);
  if (!o.common.endpoint.empty()) o.endpoint = o.common.endpoint;
  while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
  o.project_id = map.String("project_id", "");
  o.service_account_file = map.String("service_account_file", "");
  o.fcm_options_json = map.JsonObject("fcm_options");
  o.max_connections = static_cast<int>(map.Int("max_connections", 4, 1, 64));
  o.send_badge_counts = map.Bool("send_badge_counts", true);
  if (o.project_id.empty()) map.Fail("project_id", "required with api_version v1");
  if (o.service_account_file.empty()) {
    map.Fail("service_account_file", "required with api_version v1");
  }
  return o;
}

FcmClassification ClassifyFcmResponse(const http::HttpResponse& r, absl::Time now) {
  if (!r.ok()) {
    return {TransportRetry(r)};
  }
  const int s = r.status;
  if (s == 200) return {Outcome::Delivered()};
  rapidjson::Document doc;
  doc.Parse(r.body.data(), r.body.size());
  std::string status, message, error_code;
  if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("error")) {
    const rapidjson::Value& error = doc["error"];
    status = StringMember(error, "status");
    message = StringMember(error, "message");
    if (error.IsObject() && error.HasMember("details") && error["details"].IsArray()) {
      for (const auto& d : error["details"].GetArray()) {
        std::string code = StringMember(d, "errorCode");
        if (!code.empty()) error_code = code;
      }
    }
  }
  std::string detail = absl::StrCat("FCM answered ", s, error_code.empty() ? "" : " ", error_code,
                                    status.empty() ? "" : " ", status);
  if (s == 404 && (error_code == "UNREGISTERED" || status == "UNREGISTERED")) {
    return {Outcome::Rejected(detail)};
  }
  if (s == 400 && (error_code == "INVALID_ARGUMENT" || status == "INVALID_ARGUMENT")) {
    // About the token: the pushkey is dead. About the message (a field FCM
    // refuses, too large): this notification cannot go, the token is fine.
    if (absl::StrContains(absl::AsciiStrToLower(message), "registration token")) {
      return {Outcome::Rejected(detail)};
    }
    return {Outcome::Dropped(detail)};
  }
  if (s == 413) return {Outcome::Dropped(detail)};  // the message, never the token
  if (s == 401) return {Outcome::Failed(detail), true};
  if (s == 429 || s >= 500) {
    return {RetryAfterAnswer(detail, r, now)};
  }
  return {Outcome::Failed(detail)};
}

// ---- AccessTokenSource ----

AccessTokenSource::AccessTokenSource(ServiceAccount account, http::HttpClient* http,
                                     std::string ca_file, absl::Duration timeout,
                                     const http::UpstreamMetrics* metrics, const Clock* clock)
    : account_(std::move(account)),
      http_(http),
      ca_file_(std::move(ca_file)),
      timeout_(timeout),
      metrics_(metrics),
      clock_(clock) {}

void AccessTokenSource::Get(Callback done) {
  absl::ReleasableMutexLock lock(&mu_);
  if (!token_.empty() && clock_->Monotonic() < refresh_at_) {
    std::string token = token_;
    lock.Release();
    done(std::move(token));
    return;
  }
  // Answered when the fetch (this one's, or one already out) ends.
  waiters_.push_back(std::move(done));
  const bool start_fetch = !fetching_;
  fetching_ = true;
  lock.Release();
  if (start_fetch) Fetch();
}

bool AccessTokenSource::Refused(const std::string& token) {
  HERALD_LOG(kWarning, kComponent, "FCM refused the access token of ", account_.client_email,
             "; fetching a new one");
  absl::MutexLock lock(&mu_);
  if (token == token_) refresh_at_ = absl::InfinitePast();
  return true;
}

void AccessTokenSource::Fetch() {
  const int64_t iat = absl::ToUnixSeconds(clock_->Now());
  absl::StatusOr<std::string> assertion =
      MakeGoogleOAuthJwt(*account_.key, account_.client_email, kFcmScope, account_.token_uri, iat,
                         iat + absl::ToInt64Seconds(kAssertionLifetime));
  http::HttpRequest request;
  request.url = account_.token_uri;
  request.ca_file = ca_file_;
  request.timeout = timeout_;
  request.metrics = metrics_;
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  if (!assertion.ok()) {  // the key's fault: no request, and no retry helps
    return Deliver(absl::FailedPreconditionError(absl::StrCat("cannot sign the OAuth assertion: ",
                                                              assertion.status().message())),
                   absl::ZeroDuration());
  }
  // The JWT is base64url: nothing in it needs URL-encoding.
  request.body = absl::StrCat(
      "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=", *assertion);
  http_->Send(std::move(request),
              [this](http::HttpResponse response) { OnFetched(std::move(response)); });
}

void AccessTokenSource::OnFetched(http::HttpResponse response) {
  absl::StatusOr<std::string> result;
  absl::Duration lifetime = absl::ZeroDuration();
  if (!response.ok()) {
    result = absl::UnavailableError(absl::StrCat("token endpoint unreachable (",
                                                 http::TransportErrorName(response.error), ")"));
  } else if (response.status != 200) {
    result = response.status >= 500 || response.status == 429
                 ? absl::UnavailableError(absl::StrCat("token endpoint answered ", response.status))
                 : absl::PermissionDeniedError(absl::StrCat(
                       "token endpoint refused the service account (", response.status, ")"));
  } else {
    rapidjson::Document doc;
    doc.Parse(response.body.data(), response.body.size());
    std::string token = StringMember(doc, "access_token");
    int64_t expires_in = 3600;
    if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("expires_in") &&
        doc["expires_in"].IsInt64()) {
      expires_in = doc["expires_in"].GetInt64();
    }
    if (token.empty()) {
      result = absl::UnavailableError("token endpoint answered without access_token");
    } else {
      result = token;
      lifetime = absl::Seconds(expires_in);
    }
  }
  Deliver(std::move(result), lifetime);
}

void AccessTokenSource::Deliver(absl::StatusOr<std::string> result, absl::Duration lifetime) {
  std::vector<Callback> waiters;
  {
    absl::MutexLock lock(&mu_);
    fetching_ = false;
    if (result.ok()) {
      token_ = *result;
      refresh_at_ = clock_->Monotonic() + std::max(lifetime - kRefreshMargin, lifetime / 2);
    }
    waiters.swap(waiters_);
  }
  if (!result.ok()) {
    HERALD_LOG(kError, kComponent, "OAuth2 token for ", account_.client_email, ": ",
               result.status().message());
  }
  for (Callback& w : waiters) w(result);
}

// ---- GcmProvider ----

struct GcmProvider::Send {
  std::string request_id;
  std::string shown_key;
  std::string body;
  absl::Time deadline;
  std::function<void(Outcome)> done;
};

GcmProvider::GcmProvider(std::string app_id, GcmOptions options,
                         std::unique_ptr<AccessTokenSource> tokens, http::HttpClient* http,
                         const Clock* clock)
    : app_id_(std::move(app_id)),
      options_(std::move(options)),
      fcm_options_(PrepareFcmOptions(options_.fcm_options_json)),
      url_(absl::StrCat(options_.endpoint, "/v1/projects/", options_.project_id, "/messages:send")),
      tokens_(std::move(tokens)),
      http_(http),
      clock_(clock),
      metrics_(http::UpstreamMetrics::For(app_id_)) {}

void GcmProvider::Push(const PushRequest& request, std::function<void(Outcome)> done) {
  absl::StatusOr<std::string> message =
      BuildFcmMessage(WithoutCounts(*request.notification, options_.send_badge_counts),
                      *request.device, fcm_options_);
  if (!message.ok()) {  // the pusher's data is unusable: no retry will change it
    const std::string why(message.status().message());
    HERALD_LOG(kInfo, kComponent, "[", request.request_id, "] app ", app_id_, ": pushkey ",
               RedactPushkey(request.device->pushkey()), ": ", why, "; rejected");
    done(Outcome::Rejected(why).Because(Outcome::Reason::kEndpointRefused));
    return;
  }
  auto send = std::make_shared<Send>();
  send->request_id = request.request_id;
  send->shown_key = RedactPushkey(request.device->pushkey());
  send->body = *std::move(message);
  send->deadline = request.deadline;
  send->done = std::move(done);
  Attempt(send);
}

void GcmProvider::Attempt(const std::shared_ptr<Send>& send) {
  SendWithCredential(
      tokens_.get(),
      [this, send](const std::string& token, const std::function<void(CredentialAnswer)>& answer) {
        std::optional<absl::Duration> timeout =
            AttemptTimeout(options_.common, send->deadline, clock_->Monotonic());
        if (!timeout) return answer({DeadlinePassed()});
        http::HttpRequest http;
        http.url = url_;
        http.body = send->body;
        http.headers = {{"Content-Type", "application/json"},
                        {"Authorization", absl::StrCat("Bearer ", token)}};
        http.ca_file = options_.common.ca_file;
        http.timeout = *timeout;
        http.metrics = metrics_;
        http_->Send(std::move(http), [this, answer](const http::HttpResponse& response) {
          FcmClassification c = ClassifyFcmResponse(response, clock_->Now());
          answer({std::move(c.outcome), c.unauthorized});
        });
      },
      [this, send](CredentialAnswer last, bool) {
        LogOutcome(kComponent, send->request_id, app_id_, send->shown_key, last.outcome);
        send->done(std::move(last.outcome));
      });
}

namespace {

ProviderRegistration registration(
    "gcm",
    [](const std::string& app_id, ConfigMap& map,
       const ProviderEnv& env) -> absl::StatusOr<std::unique_ptr<Provider>> {
      GcmOptions options = ReadGcmOptions(map);
      if (!map.status().ok()) return map.status();
      absl::StatusOr<ServiceAccount> account = LoadServiceAccount(options.service_account_file);
      if (!account.ok()) {
        map.Fail("service_account_file", std::string(account.status().message()));
        return map.status();
      }
      http::HttpClient* http = AppHttpClient(env, options.max_connections);
      // Token fetches apart from the sends: they are few and tell another story.
      auto tokens = std::make_unique<AccessTokenSource>(
          *std::move(account), http, options.common.ca_file, options.common.timeout,
          http::UpstreamMetrics::For(app_id + " (oauth)"), env.clock);
      return std::make_unique<GcmProvider>(app_id, std::move(options), std::move(tokens), http,
                                           env.clock);
    });

}  // namespace
absl::StatusOr<std::string> MakeGoogleOAuthJwt(const SigningKey& key,
                                               absl::string_view client_email,
                                               absl::string_view scope, absl::string_view token_uri,
                                               int64_t iat, int64_t exp) {
  if (!key.is_rsa()) return absl::InvalidArgumentError("Google OAuth assertions need an RSA key");
  if (absl::Status s = RequireNonEmpty(client_email, "client_email"); !s.ok()) return s;
  if (absl::Status s = RequireNonEmpty(scope, "scope"); !s.ok()) return s;
  if (absl::Status s = RequireNonEmpty(token_uri, "token_uri"); !s.ok()) return s;
  if (exp <= iat || exp - iat > 3600) {
    return absl::InvalidArgumentError("Google OAuth assertion needs iat < exp <= iat + 3600");
  }
  std::optional<std::string> header = JoseObject().Str("alg", "RS256").Str("typ", "JWT").Finish();
  std::optional<std::string> claims = JoseObject()
                                          .Str("iss", client_email)
                                          .Str("scope", scope)
                                          .Str("aud", token_uri)
                                          .Int("iat", iat)
                                          .Int("exp", exp)
                                          .Finish();
  if (!header.has_value() || !claims.has_value()) {
    return absl::InvalidArgumentError("client_email / scope / token_uri must be valid UTF-8");
  }
  return SignJwt(key, *header, *claims);
}

}  // namespace herald::providers::gcm
