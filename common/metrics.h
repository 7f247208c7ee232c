// Prometheus metrics on prometheus-cpp (Debian's prometheus-cpp-dev):
// counters, gauges and histograms registered by name and labels once, then
// updated through the pointers handed out; rendered in the text exposition
// format for GET /metrics, with the standard process_* metrics added.
//
// Threads: series are created under the registry's lock and never freed;
// updates from any thread (counters and gauges are atomics, a histogram
// takes its own lock); Render() from whichever thread serves GET /metrics
// (the metrics listener's, or a bridge I/O thread).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
}  // namespace prometheus

namespace herald {

// A series' labels, e.g. {{"app", "im.vector"}, {"outcome", "delivered"}}.
using MetricLabels = std::map<std::string, std::string>;

class Counter {
 public:
  explicit Counter(prometheus::Counter* series) : series_(series) {}
  void Add(int64_t n = 1);
  int64_t value() const;

 private:
  prometheus::Counter* series_;
};

class Gauge {
 public:
  explicit Gauge(prometheus::Gauge* series) : series_(series) {}
  void Add(int64_t n);
  void Set(int64_t n);
  int64_t value() const;

 private:
  prometheus::Gauge* series_;
};

// Latency histogram in seconds with fixed buckets (1 ms … 10 s: most
// answers take under 5 ms).
class Histogram {
 public:
  explicit Histogram(prometheus::Histogram* series) : series_(series) {}
  void Observe(double seconds);
  static const std::vector<double>& Bounds();
  int64_t count() const;

 private:
  prometheus::Histogram* series_;
};

// The returned pointers live as long as the process.
class Metrics {
 public:
  Metrics();
  ~Metrics();
  static Metrics& Global();
  Counter* GetCounter(const std::string& name, const std::string& help,
                      const MetricLabels& labels = {});
  Gauge* GetGauge(const std::string& name, const std::string& help,
                  const MetricLabels& labels = {});
  Histogram* GetHistogram(const std::string& name, const std::string& help,
                          const MetricLabels& labels = {});
  // Global()'s text also has the standard process_* metrics (CPU time,
  // resident memory, file descriptors, start time) under the names
  // Prometheus client libraries use, read from /proc as it renders.
  std::string Render() const;

 private:
  template <typename Wrapper>
  Wrapper* Get(const std::string& name, const std::string& help, const MetricLabels& labels);

  std::shared_ptr<prometheus::Registry> registry_;
  mutable absl::Mutex mu_;
  // The wrappers handed out, by family name and labels; the families
  // (prometheus::Family<T>*) by name.
  std::map<std::pair<std::string, MetricLabels>, std::unique_ptr<Counter>> counters_
      ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, MetricLabels>, std::unique_ptr<Gauge>> gauges_
      ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, MetricLabels>, std::unique_ptr<Histogram>> histograms_
      ABSL_GUARDED_BY(mu_);
  struct FamilyEntry {
    const char* kind;  // "counter", "gauge", "histogram"
    void* family;      // prometheus::Family<T>* of that kind
  };
  std::map<std::string, FamilyEntry> families_ ABSL_GUARDED_BY(mu_);
  bool process_metrics_ = false;  // set once, for Global()
};

// One series of a family per HTTP status code: looked up in the registry by
// `make(code)` on a code's first use, then one atomic load per use. Codes
// outside 0..599 are looked up each time (no server sends them).
template <typename T>
class ByStatusCode {
 public:
  explicit ByStatusCode(std::function<T*(int code)> make) : make_(std::move(make)) {}
  T* Get(int code) const {
    if (code < 0 || code >= kCodes) return make_(code);
    T* series = cache_[code].load(std::memory_order_acquire);
    if (series == nullptr) {
      series = make_(code);  // racing threads get the same series from the registry
      cache_[code].store(series, std::memory_order_release);
    }
    return series;
  }

 private:
  static constexpr int kCodes = 600;
  std::function<T*(int)> make_;
  mutable std::array<std::atomic<T*>, kCodes> cache_{};
};

// The labels of a series, e.g. Labels({{"app", id}, {"outcome", "delivered"}}).
MetricLabels Labels(std::initializer_list<std::pair<const std::string, std::string>> pairs);

}  // namespace herald
