#include "http/upstream_metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/metrics.h"
#include "gtest/gtest.h"
#include "http/curl_http_client.h"

namespace herald::http {
namespace {

bool Has(const std::string& line) {
  return Metrics::Global().Render().find(line + "\n") != std::string::npos;
}

TEST(UpstreamMetrics, OnePerLabelForTheProcess) {
  EXPECT_EQ(UpstreamMetrics::For("im.example.a"), UpstreamMetrics::For("im.example.a"));
  EXPECT_NE(UpstreamMetrics::For("im.example.a"), UpstreamMetrics::For("im.example.b"));
}

TEST(UpstreamMetrics, CountsByStatusAndInFlight) {
  const UpstreamMetrics* m = UpstreamMetrics::For("im.example.status");
  m->Started();
  m->Started();
  EXPECT_TRUE(Has("herald_upstream_requests_in_flight{app=\"im.example.status\"} 2"));
  m->Finished(503, absl::Milliseconds(2));
  m->Finished(0, absl::Seconds(20));
  EXPECT_TRUE(Has("herald_upstream_requests_in_flight{app=\"im.example.status\"} 0"));
  EXPECT_TRUE(Has("herald_upstream_responses_total{app=\"im.example.status\",code=\"503\"} 1"));
  EXPECT_TRUE(Has("herald_upstream_responses_total{app=\"im.example.status\",code=\"error\"} 1"));
  EXPECT_TRUE(
      Has("herald_upstream_request_duration_seconds_bucket{app=\"im.example.status\",le=\"0.0025\"}"
          " 1"));
  EXPECT_TRUE(Has("herald_upstream_request_duration_seconds_count{app=\"im.example.status\"} 2"));
}

// The client records what it sends with metrics attached: here a refused
// connection, a transport failure.
TEST(UpstreamMetrics, HttpClientRecordsTransportFailures) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);  // nobody listens there now

  CurlHttpClient client;
  HttpRequest request;
  request.url = absl::StrCat("http://127.0.0.1:", ntohs(addr.sin_port), "/");
  request.metrics = UpstreamMetrics::For("im.example.client");
  absl::Notification done;
  HttpResponse response;
  client.Send(std::move(request), [&](HttpResponse r) {
    response = std::move(r);
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_FALSE(response.ok());
  // Recorded before the callback ran.
  EXPECT_TRUE(Has("herald_upstream_responses_total{app=\"im.example.client\",code=\"error\"} 1"));
  EXPECT_TRUE(Has("herald_upstream_request_duration_seconds_count{app=\"im.example.client\"} 1"));
  EXPECT_TRUE(Has("herald_upstream_requests_in_flight{app=\"im.example.client\"} 0"));
}

}  // namespace
}  // namespace herald::http
