#include "common/metrics.h"

#include <dirent.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace herald {

void Counter::Add(int64_t n) { series_->Increment(static_cast<double>(n)); }
int64_t Counter::value() const { return static_cast<int64_t>(series_->Value()); }

void Gauge::Add(int64_t n) { series_->Increment(static_cast<double>(n)); }
void Gauge::Set(int64_t n) { series_->Set(static_cast<double>(n)); }
int64_t Gauge::value() const { return static_cast<int64_t>(series_->Value()); }

const std::vector<double>& Histogram::Bounds() {
  static const std::vector<double>* bounds = new std::vector<double>{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return *bounds;
}

void Histogram::Observe(double seconds) { series_->Observe(seconds); }

int64_t Histogram::count() const {
  return static_cast<int64_t>(series_->Collect().histogram.sample_count);
}

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {}
Metrics::~Metrics() = default;

Metrics& Metrics::Global() {
  static Metrics* metrics = [] {
    auto* m = new Metrics();
    m->process_metrics_ = true;
    return m;
  }();
  return *metrics;
}

namespace {

// What each wrapper wraps, how its family is built, and where Metrics keeps
// the wrappers.
template <typename Wrapper>
struct Kind;
template <>
struct Kind<Counter> {
  static constexpr char kName[] = "counter";
  using Series = prometheus::Counter;
  static auto Builder() { return prometheus::BuildCounter(); }
  static Series& Add(prometheus::Family<Series>& f, const MetricLabels& l) { return f.Add(l); }
};
template <>
struct Kind<Gauge> {
  static constexpr char kName[] = "gauge";
  using Series = prometheus::Gauge;
  static auto Builder() { return prometheus::BuildGauge(); }
  static Series& Add(prometheus::Family<Series>& f, const MetricLabels& l) { return f.Add(l); }
};
template <>
struct Kind<Histogram> {
  static constexpr char kName[] = "histogram";
  using Series = prometheus::Histogram;
  static auto Builder() { return prometheus::BuildHistogram(); }
  static Series& Add(prometheus::Family<Series>& f, const MetricLabels& l) {
    return f.Add(l, Histogram::Bounds());
  }
};

// A /proc file whole (their size reads as 0, so stat() cannot tell); empty
// when it cannot be read.
std::string ReadProcFile(const char* path) {
  std::string text;
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  std::fclose(f);
  return text;
}

// /proc/stat's btime: when the system booted, Unix seconds; 0 if unknown.
int64_t BootTime() {
  for (absl::string_view line : absl::StrSplit(ReadProcFile("/proc/stat"), '\n')) {
    int64_t btime = 0;
    if (absl::ConsumePrefix(&line, "btime ") && absl::SimpleAtoi(line, &btime)) return btime;
  }
  return 0;
}

// Open file descriptors, not counting the one that lists them; -1 if unknown.
int64_t OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  const std::string own = std::to_string(dirfd(dir));
  int64_t count = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.' && e->d_name != own) ++count;
  }
  closedir(dir);
  return count;
}

// The process_* metrics with their client libraries' names, types and help
// texts, so that the usual dashboards and alerts work unchanged. A value
// that cannot be read is left out rather than shown as 0.
std::string ProcessMetrics() {
  std::string out;
  auto metric = [&out](const char* name, const char* type, const char* help,
                       const std::string& value) {
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n", name, " ",
                    value, "\n");
  };
  const long ticks = sysconf(_SC_CLK_TCK);
  const long page = sysconf(_SC_PAGESIZE);
  // The command name (field 2) is in parentheses and may hold spaces or
  // parentheses itself: fields are counted from the last ')'. Then
  // [0] is field 3 (state), [11] utime, [12] stime, [19] starttime, in
  // clock ticks (proc(5)).
  const std::string stat = ReadProcFile("/proc/self/stat");
  const size_t paren = stat.rfind(')');
  std::vector<absl::string_view> fields;
  if (paren != std::string::npos) {
    fields = absl::StrSplit(absl::string_view(stat).substr(paren + 1), ' ', absl::SkipEmpty());
  }
  uint64_t utime = 0, stime = 0, starttime = 0;
  if (ticks > 0 && fields.size() > 19 && absl::SimpleAtoi(fields[11], &utime) &&
      absl::SimpleAtoi(fields[12], &stime)) {
    metric("process_cpu_seconds_total", "counter",
           "Total user and system CPU time spent in seconds.",
           absl::StrFormat("%.2f", static_cast<double>(utime + stime) / ticks));
  }
  // statm: total and resident size, in pages.
  const std::string statm_text = ReadProcFile("/proc/self/statm");
  std::vector<absl::string_view> statm = absl::StrSplit(statm_text, ' ', absl::SkipEmpty());
  uint64_t vm_pages = 0, rss_pages = 0;
  if (page > 0 && statm.size() > 1 && absl::SimpleAtoi(statm[0], &vm_pages) &&
      absl::SimpleAtoi(statm[1], &rss_pages)) {
    metric("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
           absl::StrCat(vm_pages * page));
    metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
           absl::StrCat(rss_pages * page));
  }
  if (const int64_t fds = OpenFds(); fds >= 0) {
    metric("process_open_fds", "gauge", "Number of open file descriptors.", absl::StrCat(fds));
  }
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    metric("process_max_fds", "gauge", "Maximum number of open file descriptors.",
           nofile.rlim_cur == RLIM_INFINITY ? "+Inf" : absl::StrCat(nofile.rlim_cur));
  }
  const int64_t boot = BootTime();
  if (ticks > 0 && boot > 0 && fields.size() > 19 && absl::SimpleAtoi(fields[19], &starttime)) {
    metric("process_start_time_seconds", "gauge",
           "Start time of the process since unix epoch in seconds.",
           absl::StrFormat("%.2f", boot + static_cast<double>(starttime) / ticks));
  }
  return out;
}

}  // namespace

template <typename Wrapper>
Wrapper* Metrics::Get(const std::string& name, const std::string& help,
                      const MetricLabels& labels) {
  using K = Kind<Wrapper>;
  absl::MutexLock lock(&mu_);
  auto& wrappers = [this]() -> auto& ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if constexpr (std::is_same_v<Wrapper, Counter>) return counters_;
    if constexpr (std::is_same_v<Wrapper, Gauge>) return gauges_;
    if constexpr (std::is_same_v<Wrapper, Histogram>) return histograms_;
  }
  ();
  std::unique_ptr<Wrapper>& slot = wrappers[{name, labels}];
  if (slot == nullptr) {
    FamilyEntry& family = families_[name];
    if (family.family == nullptr) {
      family = {K::kName, &K::Builder().Name(name).Help(help).Register(*registry_)};
    }
    if (family.kind != K::kName) {  // a programming error: one name, two kinds
      std::fprintf(stderr, "metric %s is a %s, asked for as a %s\n", name.c_str(), family.kind,
                   K::kName);
      std::abort();
    }
    auto* typed = static_cast<prometheus::Family<typename K::Series>*>(family.family);
    slot = std::make_unique<Wrapper>(&K::Add(*typed, labels));
  }
  return slot.get();
}

Counter* Metrics::GetCounter(const std::string& name, const std::string& help,
                             const MetricLabels& labels) {
  return Get<Counter>(name, help, labels);
}

Gauge* Metrics::GetGauge(const std::string& name, const std::string& help,
                         const MetricLabels& labels) {
  return Get<Gauge>(name, help, labels);
}

Histogram* Metrics::GetHistogram(const std::string& name, const std::string& help,
                                 const MetricLabels& labels) {
  return Get<Histogram>(name, help, labels);
}

std::string Metrics::Render() const {
  std::string out = prometheus::TextSerializer().Serialize(registry_->Collect());
  if (process_metrics_) out += ProcessMetrics();
  return out;
}

MetricLabels Labels(std::initializer_list<std::pair<const std::string, std::string>> pairs) {
  return MetricLabels(pairs);
}

}  // namespace herald
