// Prometheus metrics: counters, gauges and histograms registered by name and
// labels once, updated with relaxed atomics on hot paths, rendered in the
// text exposition format for GET /metrics.
//
// Threads: series are created under the registry's lock and never freed;
// updates are lock-free from any thread; Render() from the metrics
// listener's thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace herald {

class Counter {
 public:
  void Add(int64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

class Gauge {
 public:
  void Add(int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  void Set(int64_t n) { value_.store(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Latency histogram in seconds with fixed buckets (1 ms … 10 s: most
// answers take under 5 ms).
class Histogram {
 public:
  Histogram();
  void Observe(double seconds);
  static const std::vector<double>& Bounds();
  int64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  friend class Metrics;
  std::vector<std::atomic<int64_t>> buckets_;  // cumulative on render
  std::atomic<int64_t> count_{0};
  std::atomic<int64_t> sum_micros_{0};
};

// `labels` are written as Prometheus expects, e.g. `app="im.vector",outcome="delivered"`
// (see Labels()). The returned pointers live as long as the process.
class Metrics {
 public:
  static Metrics& Global();
  Counter* GetCounter(const std::string& name, const std::string& help,
                      const std::string& labels = "");
  Gauge* GetGauge(const std::string& name, const std::string& help, const std::string& labels = "");
  Histogram* GetHistogram(const std::string& name, const std::string& help,
                          const std::string& labels = "");
  // Global()'s text also has the standard process_* metrics (CPU time,
  // resident memory, file descriptors, start time) under the names
  // Prometheus client libraries use, read from /proc as it renders.
  std::string Render() const;

 private:
  struct Family {
    std::string type;  // counter, gauge, histogram
    std::string help;
    std::map<std::string, std::unique_ptr<Counter>> counters;
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
  };
  Family& FamilyLocked(const std::string& name, const std::string& type, const std::string& help)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, Family> families_ ABSL_GUARDED_BY(mu_);
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

// `key="value"` pairs, values escaped; e.g. Labels({{"app", id}, {"outcome", "delivered"}}).
std::string Labels(const std::vector<std::pair<std::string, std::string>>& pairs);

}  // namespace herald
