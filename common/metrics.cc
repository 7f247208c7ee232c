#include "common/metrics.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace herald {

Histogram::Histogram() : buckets_(Bounds().size()) {}

const std::vector<double>& Histogram::Bounds() {
  static const std::vector<double>* bounds = new std::vector<double>{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return *bounds;
}

void Histogram::Observe(double seconds) {
  const std::vector<double>& bounds = Bounds();
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (seconds <= bounds[i]) {
      buckets_[i].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<int64_t>(seconds * 1e6), std::memory_order_relaxed);
}

Metrics& Metrics::Global() {
  static Metrics* metrics = new Metrics();
  return *metrics;
}

Metrics::Family& Metrics::FamilyLocked(const std::string& name, const std::string& type,
                                       const std::string& help) {
  Family& f = families_[name];
  if (f.type.empty()) {
    f.type = type;
    f.help = help;
  }
  return f;
}

namespace {

// The series for `labels`, made on first use.
template <typename T>
T* Series(std::map<std::string, std::unique_ptr<T>>& series, const std::string& labels) {
  std::unique_ptr<T>& slot = series[labels];
  if (slot == nullptr) slot = std::make_unique<T>();
  return slot.get();
}

std::string Braced(const std::string& labels) {
  return labels.empty() ? "" : absl::StrCat("{", labels, "}");
}

std::string With(const std::string& labels, const std::string& extra) {
  return absl::StrCat("{", labels, labels.empty() ? "" : ",", extra, "}");
}

}  // namespace

Counter* Metrics::GetCounter(const std::string& name, const std::string& help,
                             const std::string& labels) {
  absl::MutexLock lock(&mu_);
  return Series(FamilyLocked(name, "counter", help).counters, labels);
}

Gauge* Metrics::GetGauge(const std::string& name, const std::string& help,
                         const std::string& labels) {
  absl::MutexLock lock(&mu_);
  return Series(FamilyLocked(name, "gauge", help).gauges, labels);
}

Histogram* Metrics::GetHistogram(const std::string& name, const std::string& help,
                                 const std::string& labels) {
  absl::MutexLock lock(&mu_);
  return Series(FamilyLocked(name, "histogram", help).histograms, labels);
}

std::string Metrics::Render() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    absl::StrAppend(&out, "# HELP ", name, " ", f.help, "\n# TYPE ", name, " ", f.type, "\n");
    auto plain = [&out, &name = name](const auto& series) {
      for (const auto& [labels, s] : series) {
        absl::StrAppend(&out, name, Braced(labels), " ", s->value(), "\n");
      }
    };
    plain(f.counters);
    plain(f.gauges);
    for (const auto& [labels, h] : f.histograms) {
      int64_t cumulative = 0;
      const std::vector<double>& bounds = Histogram::Bounds();
      for (size_t i = 0; i < bounds.size(); ++i) {
        cumulative += h->buckets_[i].load(std::memory_order_relaxed);
        absl::StrAppend(&out, name, "_bucket",
                        With(labels, absl::StrFormat("le=\"%g\"", bounds[i])), " ", cumulative,
                        "\n");
      }
      const int64_t count = h->count();
      absl::StrAppend(&out, name, "_bucket", With(labels, "le=\"+Inf\""), " ", count, "\n");
      absl::StrAppend(&out, name, "_sum", Braced(labels), " ",
                      absl::StrFormat("%.6f", h->sum_micros_.load() / 1e6), "\n");
      absl::StrAppend(&out, name, "_count", Braced(labels), " ", count, "\n");
    }
  }
  return out;
}

std::string Labels(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::string out;
  for (const auto& [k, v] : pairs) {
    if (!out.empty()) out += ",";
    absl::StrAppend(&out, k, "=\"");
    for (char c : v) {
      if (c == '\\' || c == '"') {
        out += '\\';
        out += c;
      } else if (c == '\n') {
        out += "\\n";
      } else {
        out += c;
      }
    }
    out += '"';
  }
  return out;
}

}  // namespace herald
