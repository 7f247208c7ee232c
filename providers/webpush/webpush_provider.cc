#include "providers/webpush/webpush_provider.h"
#include "providers/common/encoding.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/executor.h"
#include "common/failpoint.h"
#include "common/log.h"
#include "http/endpoint.h"
#include "providers/common/device_data.h"
#include "providers/webpush/webpush_crypto.h"
#include "providers/webpush/webpush_payload.h"

namespace herald::providers::webpush {
namespace {

constexpr char kComponent[] = "webpush";
constexpr absl::Duration kVapidLifetime = absl::Hours(12);
constexpr absl::Duration kVapidRenewBefore = absl::Hours(1);

std::string StringMember(const rapidjson::Value& v, const char* name) {
  auto it = v.FindMember(name);
  if (it == v.MemberEnd() || !it->value.IsString()) return "";
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

}  // namespace

WebPushOptions ReadWebPushOptions(ConfigMap& map) {
  WebPushOptions o;
  o.common = ReadCommonAppOptions(map);
  o.vapid_private_key = map.String("vapid_private_key", "");
  o.vapid_contact_email = map.String("vapid_contact_email", "");
  o.allowed_endpoints = map.StringList("allowed_endpoints");
  o.ttl_seconds = map.Int("ttl", 900, 0, 2419200);
  o.events_only = map.Bool("events_only", false);
  o.only_last_per_room = map.Bool("only_last_per_room", false);
  o.allow_private_addresses = map.Bool("allow_private_addresses", false);
  o.max_connections = static_cast<int>(map.Int("max_connections", 0, 1, 10000));
  if (o.vapid_private_key.empty()) {
    map.Fail("vapid_private_key", "required: path to a PEM EC P-256 private key");
  }
  if (o.vapid_contact_email.empty()) {
    map.Fail("vapid_contact_email", "required: push services contact this address");
  }
  if (!o.common.endpoint.empty()) {
    map.Fail("endpoint", "not used by webpush: each subscription names its endpoint");
  }
  return o;
}

Outcome ClassifyWebPushResponse(const http::HttpResponse& r, absl::Time now) {
  if (!r.ok()) {
    if (r.error == http::TransportError::kRefusedAddress) return Outcome::Skipped(r.error_detail);
    return TransportRetry(r);
  }
  return ClassifyEndpointAnswer(r, "push service", now);
}

VapidTokens::VapidTokens(SigningKey key, std::string subject)
    : key_(std::move(key)),
      subject_(std::move(subject)),
      public_key_(Base64UrlEncode(key_.PublicKeyUncompressed())) {}

absl::StatusOr<std::string> VapidTokens::AuthorizationFor(const std::string& origin,
                                                          absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = by_origin_.find(origin);
  if (it != by_origin_.end() && now < it->second.renew_at) return it->second.header;
  absl::StatusOr<std::string> jwt =
      MakeVapidJwt(key_, origin, absl::ToUnixSeconds(now + kVapidLifetime), subject_);
  if (!jwt.ok()) return jwt.status();
  if (by_origin_.size() > 10000) by_origin_.clear();  // bounded: origins are few
  Entry& e = by_origin_[origin];
  e.header = absl::StrCat("vapid t=", *jwt, ", k=", public_key_);
  e.renew_at = now + kVapidLifetime - kVapidRenewBefore;
  return e.header;
}

WebPushProvider::WebPushProvider(std::string app_id, WebPushOptions options,
                                 std::unique_ptr<VapidTokens> vapid, http::HttpClient* http)
    : app_id_(std::move(app_id)),
      options_(std::move(options)),
      allowed_(options_.allowed_endpoints),
      vapid_(std::move(vapid)),
      http_(http),
      metrics_(http::UpstreamMetrics::For(app_id_)) {}

void WebPushProvider::Push(const PushRequest& request, std::function<void(Outcome)> done) {
  const herald::v1::Notification& n = *request.notification;
  const herald::v1::Device& device = *request.device;
  const std::string shown = RedactPushkey(device.pushkey());
  auto reject = [&](const std::string& why) {
    HERALD_LOG(kInfo, kComponent, "[", request.request_id, "] app ", app_id_, ": pushkey ", shown,
               ": ", why, "; rejected");
    done(Outcome::Rejected(why).Because(Outcome::Reason::kEndpointRefused));
  };
  DeviceData data = ParseDeviceData(device);
  std::string endpoint_url = StringMember(data.doc, "endpoint");
  // Either base64 alphabet, padded or not: what pywebpush accepted.
  std::optional<std::string> auth = Base64DecodeAnyAlphabet(StringMember(data.doc, "auth"));
  if (endpoint_url.empty()) return reject("data.endpoint is missing");
  if (!auth || auth->empty()) return reject("data.auth is missing or not base64");
  std::optional<std::string> p256dh = Base64DecodeAnyAlphabet(device.pushkey());
  if (!p256dh) return reject("pushkey is not a base64 p256dh key");
  std::optional<http::HttpEndpoint> endpoint = http::ParseHttpEndpoint(endpoint_url);
  if (!endpoint) return reject("data.endpoint is not an http(s) URL");

  // Client settings from the pusher's data; the app config gives the default.
  const bool has_event = n.has_event_id() && !n.event_id().empty();
  if (DataFlag(data, "events_only", options_.events_only) && !has_event) {
    done(Outcome::Skipped("events_only: not an event"));
    return;
  }
  if (std::optional<Outcome> skipped =
          SkipUnlessAllowed(allowed_, *endpoint, kComponent, request.request_id, app_id_)) {
    done(*std::move(skipped));
    return;
  }
  std::optional<std::string> payload =
      FitWebPushPayload(BuildWebPushPayload(n, data), kMaxPlaintextBytes);
  if (!payload) {
    // No retry can make it fit: a 5xx would hold the device's later pushes.
    done(Outcome::Dropped("payload does not fit in 4096 bytes even shortened"));
    return;
  }
  EncryptInputs in;
  in.plaintext = *std::move(payload);
  in.ua_public = *std::move(p256dh);
  in.auth_secret = *std::move(auth);
  absl::StatusOr<std::string> body = FailpointActive("webpush_encrypt")
                                         ? absl::InternalError("injected encryption failure")
                                         : EncryptAes128Gcm(in);
  if (!body.ok()) {
    // Only unusable subscription keys are the pushkey's fault; anything
    // else is Herald's own failure, and must not delete the pusher.
    if (body.status().code() == absl::StatusCode::kInvalidArgument) {
      return reject(std::string(body.status().message()));
    }
    HERALD_LOG(kError, kComponent, "[", request.request_id, "] app ", app_id_, ": pushkey ", shown,
               ": cannot encrypt the push: ", body.status().message());
    done(Outcome::Failed(absl::StrCat("cannot encrypt the push: ", body.status().message()))
             .Because(Outcome::Reason::kInternal));
    return;
  }

  std::optional<absl::Duration> timeout =
      AttemptTimeout(options_.common, request.deadline, MonotonicNow());
  if (!timeout) {
    done(DeadlinePassed());
    return;
  }
  absl::StatusOr<std::string> authorization =
      vapid_->AuthorizationFor(endpoint->origin, absl::Now());
  if (!authorization.ok()) {
    HERALD_LOG(kError, kComponent, "app ", app_id_,
               ": cannot sign a VAPID token: ", authorization.status().message());
    done(Outcome::Failed("cannot sign the VAPID token"));
    return;
  }
  http::HttpRequest http;
  http.url = endpoint_url;
  http.origin = endpoint->origin;
  http.body = *std::move(body);
  http.headers = {{"Content-Type", "application/octet-stream"},
                  {"Content-Encoding", "aes128gcm"},
                  {"TTL", absl::StrCat(options_.ttl_seconds)},
                  {"Urgency", n.prio() == herald::v1::PRIORITY_LOW ? "low" : "normal"},
                  {"Authorization", *std::move(authorization)}};
  if (DataFlag(data, "only_last_per_room", options_.only_last_per_room) && n.has_room_id() &&
      !n.room_id().empty()) {
    http.headers.emplace_back("Topic", RoomTopic(n.room_id()));
  }
  http.ca_file = options_.common.ca_file;
  http.timeout = *timeout;
  http.allow_private_addresses = options_.allow_private_addresses;
  http.metrics = metrics_;
  std::string app_id = app_id_;
  std::string request_id = request.request_id;
  std::string host = endpoint->host;
  http_->Send(std::move(http), [done = std::move(done), app_id, request_id, shown,
                                host](const http::HttpResponse& response) {
    Outcome outcome = ClassifyWebPushResponse(response, absl::Now());
    if (response.error == http::TransportError::kRefusedAddress) {
      HERALD_LOG(kWarning, kComponent, "[", request_id, "] app ", app_id, ": endpoint host ", host,
                 " resolves to a private address (", response.error_detail,
                 "); not sent (set allow_private_addresses: true to allow)");
    } else if (outcome.kind == Outcome::Kind::kFailed) {
      HERALD_LOG(kError, kComponent, "[", request_id, "] app ", app_id, " pushkey ", shown, " at ",
                 host, ": ", outcome.detail);
    } else {
      HERALD_LOG(kDebug, kComponent, "[", request_id, "] app ", app_id, " pushkey ", shown, " → ",
                 OutcomeKindName(outcome.kind), " ", outcome.detail);
    }
    done(std::move(outcome));
  });
}

namespace {

absl::StatusOr<SigningKey> LoadVapidKey(const std::string& path) {
  absl::StatusOr<SigningKey> key = SigningKey::FromPemFile(path);
  if (!key.ok()) return key.status();
  if (!key->is_ec_p256()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": must be an EC P-256 private key"));
  }
  return key;
}

ProviderRegistration registration(
    "webpush",
    [](const std::string& app_id, ConfigMap& map,
       const ProviderEnv& env) -> absl::StatusOr<std::unique_ptr<Provider>> {
      WebPushOptions options = ReadWebPushOptions(map);
      if (!map.status().ok()) return map.status();
      absl::StatusOr<SigningKey> key = LoadVapidKey(options.vapid_private_key);
      if (!key.ok()) {
        map.Fail("vapid_private_key", std::string(key.status().message()));
        return map.status();
      }
      std::string subject = absl::StartsWith(options.vapid_contact_email, "mailto:") ||
                                    absl::StartsWith(options.vapid_contact_email, "https:")
                                ? options.vapid_contact_email
                                : absl::StrCat("mailto:", options.vapid_contact_email);
      auto vapid = std::make_unique<VapidTokens>(*std::move(key), subject);
      http::HttpClient* http =
          options.max_connections > 0 ? AppHttpClient(env, options.max_connections) : env.http;
      return std::make_unique<WebPushProvider>(app_id, std::move(options), std::move(vapid), http);
    });

}  // namespace

absl::StatusOr<std::string> VapidPublicKeyForApp(const std::string& config_file,
                                                 const std::string& app_id) {
  absl::StatusOr<std::shared_ptr<const Config>> config = LoadConfigFile(config_file);
  if (!config.ok()) return config.status();
  for (const AppConfig& app : (*config)->apps) {
    if (app.pattern != app_id) continue;
    if (app.type != "webpush") {
      return absl::InvalidArgumentError(
          absl::StrCat(config_file, ": apps.", app_id, " is not a webpush app"));
    }
    ConfigMap map(app.node, config_file, absl::StrCat("apps.", app_id));
    map.Accept("type");
    WebPushOptions options = ReadWebPushOptions(map);
    if (!map.status().ok()) return map.status();
    absl::StatusOr<SigningKey> key = LoadVapidKey(options.vapid_private_key);
    if (!key.ok()) return key.status();
    return Base64UrlEncode(key->PublicKeyUncompressed());
  }
  return absl::NotFoundError(absl::StrCat(config_file, ": no app '", app_id, "'"));
}

}  // namespace herald::providers::webpush

// herald-dispatcher --print-vapid-public-key APP_ID: the key Web Push
// clients must subscribe with (applicationServerKey).
ABSL_FLAG(std::string, print_vapid_public_key, "",
          "APP_ID: print the VAPID public key of this Web Push app (for the clients' "
          "applicationServerKey) and exit");

namespace herald::providers::webpush {
namespace {

ProviderCommandRegistration print_vapid_public_key(&FLAGS_print_vapid_public_key,
                                                   &VapidPublicKeyForApp);

}  // namespace
absl::StatusOr<std::string> MakeVapidJwt(const SigningKey& key, absl::string_view audience,
                                         int64_t exp, absl::string_view subject) {
  if (!key.is_ec_p256()) return absl::InvalidArgumentError("VAPID needs an EC P-256 key");
  if (absl::Status s = RequireNonEmpty(audience, "VAPID audience"); !s.ok()) return s;
  if (absl::Status s = RequireNonEmpty(subject, "VAPID subject"); !s.ok()) return s;
  std::optional<std::string> header = JoseObject().Str("typ", "JWT").Str("alg", "ES256").Finish();
  std::optional<std::string> claims =
      JoseObject().Str("aud", audience).Int("exp", exp).Str("sub", subject).Finish();
  if (!header.has_value() || !claims.has_value()) {
    return absl::InvalidArgumentError("VAPID audience / subject must be valid UTF-8");
  }
  return SignJwt(key, *header, *claims);
}

}  // namespace herald::providers::webpush
