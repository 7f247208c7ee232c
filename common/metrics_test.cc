#include "common/metrics.h"

#include "gtest/gtest.h"

namespace herald {
namespace {

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
  EXPECT_EQ(m.GetCounter("x_total", "X.", "a=\"1\""), m.GetCounter("x_total", "X.", "a=\"1\""));
  EXPECT_NE(m.GetCounter("x_total", "X.", "a=\"1\""), m.GetCounter("x_total", "X.", "a=\"2\""));
}

}  // namespace
}  // namespace herald
