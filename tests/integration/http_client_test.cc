// The providers' HTTP client (libcurl, event-driven) against the fake
// provider on loopback: connection reuse across bursts, timeouts that fire
// while other transfers keep the loop busy, many transfers at once, spread
// over several event loops.
#include "http/curl_http_client.h"

#include <atomic>
#include <vector>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace herald::testing {
namespace {

http::HttpRequest Post(const std::string& url, absl::Duration timeout = absl::Seconds(5)) {
  http::HttpRequest r;
  r.url = url;
  r.body = "{}";
  r.headers = {{"Content-Type", "application/json"}};
  r.timeout = timeout;
  return r;
}

// Sends `n` requests at once and waits for all; returns their statuses.
std::vector<int> Burst(http::HttpClient& client, const std::string& url, int n) {
  std::vector<int> statuses(n, -1);
  absl::BlockingCounter done(n);
  for (int i = 0; i < n; ++i) {
    client.Send(Post(url), [&statuses, &done, i](const http::HttpResponse& r) {
      statuses[i] = r.ok() ? r.status : -static_cast<int>(r.error);
      done.DecrementCount();
    });
  }
  done.Wait();
  return statuses;
}

// Each test runs with one event loop and with several.
class HttpClientTest : public ::testing::TestWithParam<int> {
 protected:
  http::HttpClientOptions Options() const {
    http::HttpClientOptions o;
    o.threads = GetParam();
    return o;
  }
};

INSTANTIATE_TEST_SUITE_P(Loops, HttpClientTest, ::testing::Values(1, 3));

TEST_P(HttpClientTest, KeepsConnectionsAcrossBursts) {
  FakeProvider fake;
  fake.SetRules(R"([{"path_prefix":"/up/","delay_ms":300}])");
  http::CurlHttpClient client(Options());
  for (int burst = 0; burst < 4; ++burst) {
    std::vector<int> statuses = Burst(client, fake.base_url() + "/up/x", 40);
    EXPECT_EQ(statuses, std::vector<int>(40, 200)) << "burst " << burst;
  }
  // 160 requests, at most 40 at a time over HTTP/1.1: 40 connections, reused
  // by every later burst, none closed and opened again.
  rapidjson::Document stats = fake.Stats();
  EXPECT_LE(stats["total_connections"].GetInt(), 40);
  EXPECT_GE(stats["max_in_flight"].GetInt(), 20);  // the bursts did overlap
}

TEST_P(HttpClientTest, TimeoutFiresWhileOtherTransfersKeepTheLoopBusy) {
  FakeProvider fake;
  fake.SetRules(R"([{"path":"/up/hang","action":"hang"}])");
  http::CurlHttpClient client(Options());
  absl::Notification timed_out;
  http::HttpResponse hung;
  absl::Time start = absl::Now();
  absl::Time end;
  client.Send(Post(fake.base_url() + "/up/hang", absl::Milliseconds(400)),
              [&](http::HttpResponse r) {
                hung = std::move(r);
                end = absl::Now();
                timed_out.Notify();
              });
  // Quick transfers without pause, so the loop never sits idle until the timer.
  int quick = 0;
  while (!timed_out.HasBeenNotified() && absl::Now() - start < absl::Seconds(5)) {
    EXPECT_EQ(Burst(client, fake.base_url() + "/up/quick", 4), std::vector<int>(4, 200));
    quick += 4;
  }
  ASSERT_TRUE(timed_out.WaitForNotificationWithTimeout(absl::Seconds(1)));
  EXPECT_EQ(hung.error, http::TransportError::kTimeout) << hung.error_detail;
  EXPECT_GE(end - start, absl::Milliseconds(390));
  EXPECT_LT(end - start, absl::Milliseconds(1500));
  EXPECT_GT(quick, 8);
}

TEST_P(HttpClientTest, ManyTransfersAtOnceAllComplete) {
  FakeProvider fake;
  fake.SetRules(R"([{"path_prefix":"/up/","delay_ms":1000}])");
  http::CurlHttpClient client(Options());
  std::vector<int> statuses = Burst(client, fake.base_url() + "/up/many", 300);
  EXPECT_EQ(statuses, std::vector<int>(300, 200));
  EXPECT_GE(fake.Stats()["max_in_flight"].GetInt(), 100);
}

// APNs and FCM apps cap their connections per host (max_connections); the cap
// holds over HTTP/1.1 too, however the client spreads its transfers inside.
TEST_P(HttpClientTest, ConnectionCapHoldsForHttp11Transfers) {
  FakeProvider fake;
  fake.SetRules(R"([{"path_prefix":"/up/","delay_ms":100}])");
  http::HttpClientOptions options = Options();
  options.max_host_connections = 4;
  http::CurlHttpClient client(options);
  std::vector<int> statuses = Burst(client, fake.base_url() + "/up/capped", 24);
  EXPECT_EQ(statuses, std::vector<int>(24, 200));
  rapidjson::Document stats = fake.Stats();
  EXPECT_LE(stats["max_in_flight"].GetInt(), 4 * GetParam());  // a cap per loop
  EXPECT_GE(stats["max_in_flight"].GetInt(), 2);
}

TEST_P(HttpClientTest, OneOriginOverHttp2SharesOneLoopAndItsConnection) {
  TestPki pki = MakeTestPki(TempDir());
  FakeProvider fake(FakeProvider::Options{pki.server_cert, pki.server_key, ""});
  fake.SetRules(R"([{"path_prefix":"/up/","delay_ms":200}])");
  http::CurlHttpClient client(Options());
  const int n = 30;
  absl::BlockingCounter done(n);
  std::atomic<int> ok{0};
  for (int i = 0; i < n; ++i) {
    http::HttpRequest r = Post(fake.base_url() + "/up/" + std::to_string(i));
    r.ca_file = pki.ca_cert;
    r.origin = fake.base_url();
    client.Send(std::move(r), [&](const http::HttpResponse& resp) {
      if (resp.ok() && resp.status == 200) ++ok;
      done.DecrementCount();
    });
  }
  done.Wait();
  EXPECT_EQ(ok.load(), n);
  rapidjson::Document reqs = fake.Requests(n);  // must outlive the loop (ASan found it)
  for (const auto& req : reqs.GetArray()) {
    EXPECT_EQ(std::string(req["protocol"].GetString()), "HTTP/2");
  }
  // Spread over several loops, each would have opened its own connection.
  EXPECT_LE(fake.Stats()["total_connections"].GetInt(), 1);
}

TEST_P(HttpClientTest, RefusedPrivateAddressIsNotContacted) {
  FakeProvider fake;
  http::CurlHttpClient client(Options());
  http::HttpRequest r = Post(fake.base_url() + "/up/private");
  r.allow_private_addresses = false;
  absl::Notification done;
  http::HttpResponse got;
  client.Send(std::move(r), [&](http::HttpResponse resp) {
    got = std::move(resp);
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_EQ(got.error, http::TransportError::kRefusedAddress);
  EXPECT_EQ(fake.Requests().Size(), 0u);
}

}  // namespace
}  // namespace herald::testing
