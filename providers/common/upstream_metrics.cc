#include "providers/common/upstream_metrics.h"

#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace herald::providers {
namespace {

constexpr char kResponses[] = "herald_upstream_responses_total";
constexpr char kResponsesHelp[] =
    "Upstream answers to providers' requests, by app and HTTP status (code=\"error\": no "
    "answer, a transport failure).";

}  // namespace

const UpstreamMetrics* UpstreamMetrics::For(const std::string& app_label) {
  static absl::Mutex mu;
  static auto* by_label = new std::map<std::string, std::unique_ptr<UpstreamMetrics>>();
  absl::MutexLock lock(&mu);
  std::unique_ptr<UpstreamMetrics>& slot = (*by_label)[app_label];
  if (slot == nullptr) slot.reset(new UpstreamMetrics(app_label));
  return slot.get();
}

UpstreamMetrics::UpstreamMetrics(const std::string& app_label)
    : labels_(Labels({{"app", app_label}})),
      duration_(Metrics::Global().GetHistogram(
          "herald_upstream_request_duration_seconds",
          "Time from a provider's request to its upstream answer (or failure), by app.",
          labels_)),
      in_flight_(Metrics::Global().GetGauge("herald_upstream_requests_in_flight",
                                            "Provider requests waiting for an upstream answer, "
                                            "by app.",
                                            labels_)) {}

void UpstreamMetrics::Started() const { in_flight_->Add(1); }

void UpstreamMetrics::Finished(int status, absl::Duration elapsed) const {
  in_flight_->Add(-1);
  duration_->Observe(absl::ToDoubleSeconds(elapsed));
  Responses(status)->Add();
}

Counter* UpstreamMetrics::Responses(int status) const {
  if (status < 0) status = 0;
  auto lookup = [this](int s) {
    return Metrics::Global().GetCounter(
        kResponses, kResponsesHelp,
        absl::StrCat(labels_, ",", Labels({{"code", s == 0 ? "error" : absl::StrCat(s)}})));
  };
  // Not a status real servers send (curl passes on up to 999): no slot,
  // still counted under its own code.
  if (status >= kCachedCodes) return lookup(status);
  Counter* c = responses_[status].load(std::memory_order_acquire);
  if (c == nullptr) {
    // Threads racing here get the same counter from the registry.
    c = lookup(status);
    responses_[status].store(c, std::memory_order_release);
  }
  return c;
}

}  // namespace herald::providers
