#include "common/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

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
  static Metrics* metrics = [] {
    auto* m = new Metrics();
    m->process_metrics_ = true;
    return m;
  }();
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
  // Read before taking the lock: no counter lookup waits for /proc.
  const std::string process = process_metrics_ ? ProcessMetrics() : "";
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
  out += process;
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
