#include "common/metrics.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace herald {
namespace {

// The value of an unlabelled series in `text`, after checking its HELP and
// TYPE lines; -1 when it is not there.
double Value(const std::string& text, const std::string& name, const std::string& type) {
  if (text.find(absl::StrCat("# HELP ", name, " ")) == std::string::npos) return -1;
  if (text.find(absl::StrCat("# TYPE ", name, " ", type, "\n")) == std::string::npos) return -1;
  const std::string key = absl::StrCat("\n", name, " ");
  const size_t at = text.find(key);
  if (at == std::string::npos) return -1;
  const size_t begin = at + key.size();
  double value = -1;
  if (!absl::SimpleAtod(text.substr(begin, text.find('\n', begin) - begin), &value)) return -1;
  return value;
}

TEST(Metrics, RendersPrometheusText) {
  Metrics m;
  m.GetCounter("herald_test_total", "Things.", Labels({{"app", "a\"b"}}))->Add(3);
  m.GetCounter("herald_test_total", "Things.", Labels({{"app", "c"}}))->Add();
  m.GetGauge("herald_test_in_flight", "Now.")->Set(7);
  Histogram* h = m.GetHistogram("herald_test_seconds", "Time.");
  h->Observe(0.003);
  h->Observe(0.2);
  h->Observe(60);
  std::string text = m.Render();
  EXPECT_NE(text.find("# TYPE herald_test_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("herald_test_total{app=\"a\\\"b\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("herald_test_total{app=\"c\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("herald_test_in_flight 7\n"), std::string::npos) << text;
  EXPECT_NE(text.find("herald_test_seconds_bucket{le=\"0.001\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("herald_test_seconds_bucket{le=\"0.0025\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("herald_test_seconds_bucket{le=\"0.005\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("herald_test_seconds_bucket{le=\"0.25\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("herald_test_seconds_bucket{le=\"10\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("herald_test_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("herald_test_seconds_count 3\n"), std::string::npos) << text;
}

TEST(Metrics, SameNameAndLabelsIsTheSameCounter) {
  Metrics m;
  EXPECT_EQ(m.GetCounter("x_total", "X.", Labels({{"a", "1"}})),
            m.GetCounter("x_total", "X.", Labels({{"a", "1"}})));
  EXPECT_NE(m.GetCounter("x_total", "X.", Labels({{"a", "1"}})),
            m.GetCounter("x_total", "X.", Labels({{"a", "2"}})));
}

TEST(Metrics, GlobalRendersProcessMetrics) {
  // Some CPU time to show, and a descriptor known to be open.
  volatile uint64_t spin = 0;
  for (int i = 0; i < 20000000; ++i) spin += i;
  const int fd = open("/dev/null", O_RDONLY);
  ASSERT_GE(fd, 0);
  const std::string text = Metrics::Global().Render();
  close(fd);
  EXPECT_GT(Value(text, "process_cpu_seconds_total", "counter"), 0) << text;
  EXPECT_GT(Value(text, "process_resident_memory_bytes", "gauge"), 1 << 20) << text;
  EXPECT_GE(Value(text, "process_virtual_memory_bytes", "gauge"),
            Value(text, "process_resident_memory_bytes", "gauge"))
      << text;
  // stdin, stdout, stderr and /dev/null at least.
  const double open_fds = Value(text, "process_open_fds", "gauge");
  EXPECT_GE(open_fds, 4) << text;
  EXPECT_GE(Value(text, "process_max_fds", "gauge"), open_fds) << text;
  const double now = absl::ToUnixSeconds(absl::Now());
  const double start = Value(text, "process_start_time_seconds", "gauge");
  EXPECT_GT(start, now - 86400) << text;
  EXPECT_LE(start, now + 1) << text;
}

TEST(Metrics, OnlyGlobalRendersProcessMetrics) {
  Metrics m;
  m.GetCounter("herald_test_total", "Things.")->Add();
  EXPECT_EQ(m.Render().find("process_"), std::string::npos) << m.Render();
}

}  // namespace
}  // namespace herald
