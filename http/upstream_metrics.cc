#include "http/upstream_metrics.h"

#include <algorithm>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace herald::http {
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
          "Time from a provider's request to its upstream answer (or failure), by app.", labels_)),
      in_flight_(Metrics::Global().GetGauge("herald_upstream_requests_in_flight",
                                            "Provider requests waiting for an upstream answer, "
                                            "by app.",
                                            labels_)),
      responses_([this](int code) {
        MetricLabels labels = labels_;
        labels["code"] = code <= 0 ? "error" : absl::StrCat(code);
        return Metrics::Global().GetCounter(kResponses, kResponsesHelp, labels);
      }) {}

void UpstreamMetrics::Started() const { in_flight_->Add(1); }

void UpstreamMetrics::Finished(int status, absl::Duration elapsed) const {
  in_flight_->Add(-1);
  duration_->Observe(absl::ToDoubleSeconds(elapsed));
  responses_.Get(std::max(status, 0))->Add();
}

}  // namespace herald::http
