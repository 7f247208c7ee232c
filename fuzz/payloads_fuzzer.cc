// The payload builders, on any notification the bridge accepts: APNs
// (with its truncation), FCM, Web Push (fitted to the encrypted body) and
// UnifiedPush (fitted to 4096 bytes). No crash, valid JSON out, and each
// limit held whenever the builder says it fitted.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "bridge/notify_json.h"
#include "providers/apns/apns_payload.h"
#include "providers/common/notification_json.h"
#include "providers/gcm/fcm_message.h"
#include "providers/unifiedpush/unifiedpush_provider.h"
#include "providers/webpush/webpush_payload.h"
#include "rapidjson/document.h"

namespace {

void MustBeJsonObject(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(text.data(),
                                                                                    text.size());
  if (doc.HasParseError() || !doc.IsObject()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  herald::v1::Notification n;
  if (!herald::bridge::ParseNotifyBody(body, &n).ok()) return 0;
  for (const herald::v1::Device& device : n.devices()) {
    if (auto apns = herald::providers::apns::BuildApnsPayload(n, device)) {
      if (apns->size() > herald::providers::apns::kApnsMaxPayloadBytes) std::abort();
      MustBeJsonObject(*apns);
    }
    auto fcm = herald::providers::gcm::BuildFcmMessage(n, device, R"({"android":{"ttl":"60s"}})");
    if (fcm.ok()) MustBeJsonObject(*fcm);
    const std::string web = herald::providers::webpush::BuildWebPushPayload(n, device);
    MustBeJsonObject(web);
    if (auto fitted = herald::providers::webpush::FitWebPushPayload(
            web, herald::providers::webpush::kMaxPlaintextBytes)) {
      if (fitted->size() > herald::providers::webpush::kMaxPlaintextBytes) std::abort();
      MustBeJsonObject(*fitted);
    }
  }
  const std::string original =
      herald::providers::NotifyBodyJson(n, herald::providers::NotificationJsonOptions{});
  const std::string up = herald::providers::FitUnifiedPushBody(original);
  MustBeJsonObject(up);
  // Within what distributors take, or unchanged when nothing makes it fit.
  if (up.size() > herald::providers::kMaxUnifiedPushBody && up != original) std::abort();
  return 0;
}
