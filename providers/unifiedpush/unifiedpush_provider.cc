#include "providers/unifiedpush/unifiedpush_provider.h"

#include "absl/strings/str_cat.h"
#include "common/executor.h"
#include "common/log.h"
#include "http/endpoint.h"
#include "providers/common/device_data.h"
#include "providers/common/fit_json.h"
#include "providers/common/notification_json.h"
#include "rapidjson/document.h"

namespace herald::providers {
namespace {

constexpr char kComponent[] = "unifiedpush";

}  // namespace

std::string FitUnifiedPushBody(std::string body) {
  if (body.size() <= kMaxUnifiedPushBody) return body;
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseFullPrecisionFlag | rapidjson::kParseIterativeFlag>(body.data(),
                                                                                 body.size());
  if (doc.HasParseError()) return body;
  static const std::vector<FitStep>* const steps =
      new std::vector<FitStep>(NotificationFitSteps({"notification"}));
  // When even that does not fit (huge ids), the distributor decides; a 413
  // then drops this one notification.
  std::optional<std::string> fitted = FitJsonObject(doc, kMaxUnifiedPushBody, *steps);
  return fitted ? *std::move(fitted) : body;
}

Outcome ClassifyUnifiedPushResponse(const http::HttpResponse& r, absl::Time now) {
  if (!r.ok()) {
    switch (r.error) {
      case http::TransportError::kRefusedAddress:
        return Outcome::Rejected(r.error_detail).Because(Outcome::Reason::kEndpointRefused);
      case http::TransportError::kBadUrl:
        return Outcome::Rejected("endpoint is not a usable URL")
            .Because(Outcome::Reason::kEndpointRefused);
      default:
        return TransportRetry(r);
    }
  }
  return ClassifyEndpointAnswer(r, "distributor", now);
}

UnifiedPushProvider::UnifiedPushProvider(std::string app_id, UnifiedPushOptions options,
                                         http::HttpClient* http)
    : app_id_(std::move(app_id)),
      options_(std::move(options)),
      allowed_(options_.allowed_endpoints),
      http_(http),
      metrics_(http::UpstreamMetrics::For(app_id_)) {}

void UnifiedPushProvider::Push(const PushRequest& request, std::function<void(Outcome)> done) {
  const std::string& endpoint = request.device->pushkey();
  std::optional<http::HttpEndpoint> parsed = http::ParseHttpEndpoint(endpoint);
  if (!parsed) {
    HERALD_LOG(kWarning, kComponent, "[", request.request_id, "] app ", app_id_, ": pushkey ",
               RedactPushkey(endpoint), " is not an http(s) URL; rejected");
    done(Outcome::Rejected("pushkey is not an http(s) URL")
             .Because(Outcome::Reason::kEndpointRefused));
    return;
  }
  if (std::optional<Outcome> skipped =
          SkipUnlessAllowed(allowed_, *parsed, kComponent, request.request_id, app_id_)) {
    done(*std::move(skipped));
    return;
  }
  std::optional<absl::Duration> timeout =
      AttemptTimeout(options_.common, request.deadline, MonotonicNow());
  if (!timeout) {
    done(DeadlinePassed());
    return;
  }
  DeviceData data = ParseDeviceData(*request.device);
  NotificationJsonOptions json_options;
  json_options.event_id_only = data.event_id_only;

  http::HttpRequest http;
  http.url = endpoint;
  http.origin = parsed->origin;
  http.headers = {{"Content-Type", "application/json"},
                  {"TTL", absl::StrCat(options_.ttl_seconds)}};
  http.body = FitUnifiedPushBody(NotifyBodyJson(*request.notification, json_options));
  http.timeout = *timeout;
  http.ca_file = options_.common.ca_file;
  http.allow_private_addresses = options_.allow_private_addresses;
  http.metrics = metrics_;

  std::string app_id = app_id_;
  std::string request_id = request.request_id;
  std::string shown = RedactPushkey(endpoint);
  http_->Send(std::move(http), [done = std::move(done), app_id, request_id,
                                shown](const http::HttpResponse& response) {
    Outcome outcome = ClassifyUnifiedPushResponse(response, absl::Now());
    if (response.error == http::TransportError::kRefusedAddress) {
      HERALD_LOG(kWarning, kComponent, "[", request_id, "] app ", app_id, ": endpoint ", shown,
                 " resolves to a private address (", response.error_detail,
                 "); rejected (set allow_private_addresses: true to allow)");
    } else {
      HERALD_LOG(kDebug, kComponent, "[", request_id, "] app ", app_id, ": ", shown, " → ",
                 OutcomeKindName(outcome.kind), " ", outcome.detail);
    }
    done(std::move(outcome));
  });
}

namespace {

ProviderRegistration registration(
    "unifiedpush",
    [](const std::string& app_id, ConfigMap& map,
       const ProviderEnv& env) -> absl::StatusOr<std::unique_ptr<Provider>> {
      UnifiedPushOptions options;
      options.common = ReadCommonAppOptions(map);
      options.allowed_endpoints = map.StringList("allowed_endpoints");
      options.allow_private_addresses = map.Bool("allow_private_addresses", false);
      options.ttl_seconds = map.Int("ttl", 900, 0, 2419200);
      if (!options.common.endpoint.empty()) {
        map.Fail("endpoint", "not used by unifiedpush: the pushkey is the endpoint URL");
      }
      if (!map.status().ok()) return map.status();
      return std::make_unique<UnifiedPushProvider>(app_id, std::move(options), env.http);
    });

}  // namespace
}  // namespace herald::providers
