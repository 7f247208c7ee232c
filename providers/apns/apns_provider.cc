#include "providers/apns/apns_provider.h"

#include <openssl/pem.h>
#include <openssl/rand.h>

#include <cstdio>
#include <ctime>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "providers/apns/apns_payload.h"
#include "providers/common/device_data.h"
#include "providers/common/openssl_util.h"
#include "providers/common/signing_key.h"
#include "rapidjson/document.h"

namespace herald::providers::apns {
namespace {

constexpr char kComponent[] = "apns";
constexpr absl::Duration kTokenLifetime = absl::Minutes(50);
// Apple: a key's token may change at most once every 20 minutes.
constexpr absl::Duration kMinRenewInterval = absl::Minutes(20);

std::string Reason(const http::HttpResponse& r) {
  rapidjson::Document doc;
  doc.Parse(r.body.data(), r.body.size());
  if (doc.HasParseError() || !doc.IsObject()) return "";
  auto it = doc.FindMember("reason");
  if (it == doc.MemberEnd() || !it->value.IsString()) return "";
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

// A PEM file holding a certificate and its private key (Sygnal's certfile):
// the certificate's expiry (Unix seconds; 0 if it cannot be read), or why the
// file is not usable.
absl::StatusOr<int64_t> CertFileExpiry(const std::string& path) {
  absl::StatusOr<std::string> pem = ReadPemFile(path);
  if (!pem.ok()) return pem.status();
  openssl::X509Ptr cert(PEM_read_bio_X509(openssl::MemBio(*pem).get(), nullptr, nullptr, nullptr));
  openssl::PkeyPtr key(
      PEM_read_bio_PrivateKey(openssl::MemBio(*pem).get(), nullptr, nullptr, nullptr));
  openssl::Cleanse(*pem);
  const bool ok = cert != nullptr && key != nullptr;
  const bool match = ok && X509_check_private_key(cert.get(), key.get()) == 1;
  std::tm expiry{};
  const int64_t not_after =
      cert != nullptr && ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &expiry) == 1
          ? static_cast<int64_t>(timegm(&expiry))
          : 0;
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " must hold a PEM certificate and its unencrypted private key"));
  }
  if (!match) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": the private key does not match the certificate"));
  }
  return not_after;
}

}  // namespace

std::string NewUuid() {
  unsigned char b[16];
  RAND_bytes(b, sizeof(b));
  b[6] = (b[6] & 0x0F) | 0x40;  // version 4
  b[8] = (b[8] & 0x3F) | 0x80;  // RFC 4122 variant
  return absl::StrFormat("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
                         b[12], b[13], b[14], b[15]);
}

ApnsOptions ReadApnsOptions(ConfigMap& map) {
  ApnsOptions o;
  o.common = ReadCommonAppOptions(map);
  o.keyfile = map.String("keyfile", "");
  o.key_id = map.String("key_id", "");
  o.team_id = map.String("team_id", "");
  o.certfile = map.String("certfile", "");
  o.topic = map.String("topic", "");
  o.push_type = map.String("push_type", "");
  o.convert_device_token_to_hex = map.Bool("convert_device_token_to_hex", true);
  o.max_connections = static_cast<int>(map.Int("max_connections", 4, 1, 64));
  o.send_badge_counts = map.Bool("send_badge_counts", true);
  std::string platform = absl::AsciiStrToLower(map.String("platform", "production"));
  if (platform == "production" || platform == "prod") {
    o.base_url = kProductionUrl;
  } else if (platform == "sandbox") {
    o.base_url = kSandboxUrl;
  } else {
    map.Fail("platform", "must be production (or prod) or sandbox");
  }
  if (!o.common.endpoint.empty()) {
    o.base_url = o.common.endpoint;
    while (!o.base_url.empty() && o.base_url.back() == '/') o.base_url.pop_back();
  }
  if (!o.push_type.empty()) {
    static const char* const kTypes[] = {"alert",        "background",   "voip",
                                         "complication", "fileprovider", "mdm"};
    bool known = false;
    for (const char* t : kTypes) known = known || o.push_type == t;
    if (!known) {
      map.Fail("push_type",
               "must be one of alert, background, voip, complication, fileprovider, mdm");
    }
  }
  if (!o.keyfile.empty() && !o.certfile.empty()) {
    map.Fail("certfile", "give either keyfile (token auth) or certfile, not both");
  } else if (!o.keyfile.empty()) {
    if (o.key_id.empty()) map.Fail("key_id", "required with keyfile (token auth)");
    if (o.team_id.empty()) map.Fail("team_id", "required with keyfile (token auth)");
    if (o.topic.empty())
      map.Fail("topic", "required with keyfile (token auth): the app's bundle id");
  } else if (!o.certfile.empty()) {
    absl::StatusOr<int64_t> not_after = CertFileExpiry(o.certfile);
    if (not_after.ok()) {
      o.certificate_not_after = *not_after;
    } else {
      map.Fail("certfile", std::string(not_after.status().message()));
    }
  } else {
    map.Fail("keyfile", "missing: give keyfile + key_id + team_id + topic, or certfile");
  }
  return o;
}

ApnsClassification ClassifyApnsResponse(const http::HttpResponse& r, absl::Time now) {
  if (!r.ok()) {
    return {TransportRetry(r)};
  }
  const int s = r.status;
  if (s == 200) return {Outcome::Delivered()};
  std::string reason = Reason(r);
  std::string detail = absl::StrCat("APNs answered ", s, reason.empty() ? "" : " ", reason);
  if (s == 410) return {Outcome::Rejected(detail)};
  if (s == 400 && (reason == "BadDeviceToken" || reason == "DeviceTokenNotForTopic" ||
                   reason == "TopicDisallowed")) {
    return {Outcome::Rejected(detail)};
  }
  // This message can never be sent to this device; the token is fine.
  if (s == 413 || (s == 400 && reason == "PayloadEmpty")) return {Outcome::Dropped(detail)};
  // Renewed (within Apple's limits) and tried again by the provider; when
  // that is not allowed or does not help, the operator must look (5xx).
  if (s == 403 && reason == "ExpiredProviderToken") {
    return {Outcome::Failed(detail), true};
  }
  if (s == 429 || s == 500 || s == 503) {
    return {RetryAfterAnswer(detail, r, now)};
  }
  return {Outcome::Failed(detail)};
}

ApnsTokenCache::ApnsTokenCache(SigningKey key, std::string key_id, std::string team_id)
    : key_(std::move(key)), key_id_(std::move(key_id)), team_id_(std::move(team_id)) {}

absl::StatusOr<std::string> ApnsTokenCache::Get(absl::Time now) {
  absl::MutexLock lock(&mu_);
  const bool due = token_.empty() || renew_ || now - issued_ >= kTokenLifetime;
  if (due) {
    absl::StatusOr<std::string> jwt =
        MakeApnsJwt(key_, key_id_, team_id_, absl::ToUnixSeconds(now));
    if (!jwt.ok()) {
      if (token_.empty()) return jwt.status();
      HERALD_LOG(
          kError, kComponent, "key ", key_id_,
          ": cannot sign a new provider token, sending the previous one: ", jwt.status().message());
      return token_;
    }
    token_ = *std::move(jwt);
    issued_ = now;
    renew_ = false;
    ++renewals_;
  }
  return token_;
}

bool ApnsTokenCache::Expired(const std::string& token, absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (token != token_) return true;  // renewed since: try the new one
  if (renew_) return true;           // another push asked already
  if (now - issued_ < kMinRenewInterval) return false;
  renew_ = true;
  return true;
}

int ApnsTokenCache::renewals() const {
  absl::MutexLock lock(&mu_);
  return renewals_;
}

std::shared_ptr<ApnsTokenCache> ApnsTokenCache::Shared(SigningKey key, const std::string& key_id,
                                                       const std::string& team_id) {
  // Registries built by a reload overlap the ones they replace, so an
  // unchanged key finds its cache here and Apple sees no new token.
  static absl::Mutex mu;
  static auto* caches = new std::map<std::string, std::weak_ptr<ApnsTokenCache>>();
  // The public half names the key without keeping any secret here.
  const std::string id = absl::StrCat(key_id, "\n", team_id, "\n", key.PublicKeyUncompressed());
  absl::MutexLock lock(&mu);
  for (auto it = caches->begin(); it != caches->end();) {
    it = it->second.expired() ? caches->erase(it) : std::next(it);
  }
  std::weak_ptr<ApnsTokenCache>& slot = (*caches)[id];
  if (std::shared_ptr<ApnsTokenCache> cache = slot.lock()) return cache;
  auto cache = std::make_shared<ApnsTokenCache>(std::move(key), key_id, team_id);
  slot = cache;
  return cache;
}

struct ApnsProvider::Send {
  std::string request_id;
  std::string shown_key;
  http::HttpRequest http;  // without authorization
  absl::Time deadline;
  std::function<void(Outcome)> done;
};

// The token cache as the credential pushes are sent with.
class ApnsProvider::TokenCredential final : public Credential {
 public:
  TokenCredential(std::shared_ptr<ApnsTokenCache> tokens, std::string app_id, const Clock* clock)
      : tokens_(std::move(tokens)), app_id_(std::move(app_id)), clock_(clock) {}

  void Get(Callback done) override {
    absl::StatusOr<std::string> jwt = tokens_->Get(clock_->Now());
    if (!jwt.ok()) {
      HERALD_LOG(kError, kComponent, "app ", app_id_,
                 ": cannot sign a provider token: ", jwt.status().message());
      return done(absl::InternalError("cannot sign the APNs provider token"));
    }
    done(*std::move(jwt));
  }
  bool Refused(const std::string& used) override {
    if (!tokens_->Expired(used, clock_->Now())) return false;
    HERALD_LOG(kWarning, kComponent, "app ", app_id_,
               ": APNs says the provider token expired; renewing it");
    return true;
  }

 private:
  std::shared_ptr<ApnsTokenCache> tokens_;
  const std::string app_id_;
  const Clock* clock_;
};

ApnsProvider::ApnsProvider(std::string app_id, ApnsOptions options,
                           std::shared_ptr<ApnsTokenCache> tokens, http::HttpClient* http,
                           const Clock* clock)
    : app_id_(std::move(app_id)),
      options_(std::move(options)),
      credential_(tokens == nullptr
                      ? nullptr
                      : std::make_unique<TokenCredential>(std::move(tokens), app_id_, clock)),
      http_(http),
      clock_(clock),
      metrics_(http::UpstreamMetrics::For(app_id_)) {
  // Alerts can fire before Apple starts refusing the certificate.
  if (!options_.certfile.empty() && options_.certificate_not_after > 0) {
    Metrics::Global()
        .GetGauge("herald_apns_certificate_expiry_timestamp_seconds",
                  "When the client certificate (certfile) of an APNs app expires, Unix seconds.",
                  Labels({{"app", app_id_}}))
        ->Set(options_.certificate_not_after);
  }
}

ApnsProvider::~ApnsProvider() = default;

void ApnsProvider::Push(const PushRequest& request, std::function<void(Outcome)> done) {
  const herald::v1::Device& device = *request.device;
  std::string token = device.pushkey();
  // Apple's tokens are 32 bytes (and may grow to 100): far longer is no
  // token, and must not become a megabyte URL that no retry gets through.
  constexpr size_t kMaxTokenChars = 1024;
  if (device.pushkey().size() > kMaxTokenChars) {
    HERALD_LOG(kInfo, kComponent, "[", request.request_id, "] app ", app_id_, ": pushkey ",
               RedactPushkey(device.pushkey()), " is too long for a device token; rejected");
    done(Outcome::Rejected("pushkey is too long for an APNs device token")
             .Because(Outcome::Reason::kEndpointRefused));
    return;
  }
  if (options_.convert_device_token_to_hex) {
    std::optional<std::string> hex = DeviceTokenToHex(device.pushkey());
    if (!hex) {
      HERALD_LOG(kInfo, kComponent, "[", request.request_id, "] app ", app_id_, ": pushkey ",
                 RedactPushkey(device.pushkey()), " is not valid base64; rejected");
      done(Outcome::Rejected("pushkey is not a valid base64 device token")
               .Because(Outcome::Reason::kEndpointRefused));
      return;
    }
    token = *hex;
  }
  std::optional<std::string> payload =
      BuildApnsPayload(WithoutCounts(*request.notification, options_.send_badge_counts), device);
  if (!payload) {
    done(Outcome::Skipped("nothing to show: no alert and no badge"));
    return;
  }
  auto send = std::make_shared<Send>();
  send->request_id = request.request_id;
  send->shown_key = RedactPushkey(device.pushkey());
  send->deadline = request.deadline;
  send->done = std::move(done);
  http::HttpRequest& http = send->http;
  http.url = absl::StrCat(options_.base_url, "/3/device/", token);
  http.body = *std::move(payload);
  http.headers = {
      {"content-type", "application/json"},
      {"apns-id", NewUuid()},
      {"apns-priority", request.notification->prio() == herald::v1::PRIORITY_LOW ? "5" : "10"}};
  if (!options_.topic.empty()) http.headers.emplace_back("apns-topic", options_.topic);
  if (!options_.push_type.empty()) http.headers.emplace_back("apns-push-type", options_.push_type);
  http.ca_file = options_.common.ca_file;
  http.client_cert_file = options_.certfile;
  http.metrics = metrics_;
  Attempt(send);
}

void ApnsProvider::Attempt(const std::shared_ptr<Send>& send) {
  SendWithCredential(
      credential_.get(),
      [this, send](const std::string& jwt, const std::function<void(CredentialAnswer)>& answer) {
        std::optional<absl::Duration> timeout =
            AttemptTimeout(options_.common, send->deadline, clock_->Monotonic());
        if (!timeout) return answer({DeadlinePassed()});
        http::HttpRequest http = send->http;
        http.timeout = *timeout;
        if (!jwt.empty()) http.headers.emplace_back("authorization", absl::StrCat("bearer ", jwt));
        http_->Send(std::move(http), [this, answer](const http::HttpResponse& response) {
          ApnsClassification c = ClassifyApnsResponse(response, clock_->Now());
          answer({std::move(c.outcome), c.provider_token_expired});
        });
      },
      [this, send](CredentialAnswer last, bool renewed) {
        if (last.refused && credential_ != nullptr) {
          // A 5xx: the homeserver keeps the notification while the operator
          // looks at the key or the clock.
          last.outcome = Outcome::Failed(absl::StrCat(
              last.outcome.detail, renewed
                                       ? " for a fresh provider token too"
                                       : " for a provider token less than 20 minutes old (Apple "
                                         "allows a new one every 20 minutes; check the clock)"));
        }
        LogOutcome(kComponent, send->request_id, app_id_, send->shown_key, last.outcome);
        send->done(std::move(last.outcome));
      });
}

namespace {

ProviderRegistration registration(
    "apns",
    [](const std::string& app_id, ConfigMap& map,
       const ProviderEnv& env) -> absl::StatusOr<std::unique_ptr<Provider>> {
      ApnsOptions options = ReadApnsOptions(map);
      if (!map.status().ok()) return map.status();
      std::shared_ptr<ApnsTokenCache> tokens;
      if (!options.keyfile.empty()) {
        absl::StatusOr<SigningKey> key = SigningKey::FromPemFile(options.keyfile);
        if (!key.ok()) {
          map.Fail("keyfile", std::string(key.status().message()));
          return map.status();
        }
        if (!key->is_ec_p256()) {
          map.Fail("keyfile", "must be an EC P-256 private key (Apple's .p8 file)");
          return map.status();
        }
        tokens = ApnsTokenCache::Shared(*std::move(key), options.key_id, options.team_id);
      }
      http::HttpClient* http = AppHttpClient(env, options.max_connections);
      return std::make_unique<ApnsProvider>(app_id, std::move(options), std::move(tokens), http,
                                            env.clock);
    });

}  // namespace

}  // namespace herald::providers::apns
