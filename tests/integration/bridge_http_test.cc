// The bridge's HTTP surface (design.md, "HTTP surface"), against the real
// herald-bridge and herald-dispatcher binaries.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace herald::testing {
namespace {

size_t Occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// A well-behaved homeserver: notify requests one after another, each on a
// new connection, while a hostile client does its worst. What it saw is
// printed and checked: every request answered 200, none held up.
class SteadyClient {
 public:
  SteadyClient(Herald* herald, FakeProvider* fake, std::string name)
      : herald_(herald), fake_(fake), name_(std::move(name)), thread_([this] { Loop(); }) {}
  ~SteadyClient() {
    if (thread_.joinable()) Finish();
  }

  // Stops once at least `min_requests` have been answered, prints the
  // figures, and checks them: a client holding the bridge hostage would
  // show as seconds on every request (the median), not one stall on a
  // loaded machine (the worst is bounded loosely).
  void Finish(int min_requests = 10) {
    while (answered_.load() < min_requests && absl::Now() - start_ < absl::Seconds(30)) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    stop_ = true;
    thread_.join();
    std::sort(latencies_.begin(), latencies_.end());
    ASSERT_FALSE(latencies_.empty());
    const absl::Duration p50 = latencies_[latencies_.size() / 2];
    const absl::Duration max = latencies_.back();
    std::cout << "well-behaved client during " << name_ << ": " << latencies_.size()
              << " requests, " << failed_ << " not 200, p50 " << absl::FormatDuration(p50)
              << ", max " << absl::FormatDuration(max) << "\n";
    EXPECT_EQ(failed_, 0) << name_ << "; the first: " << first_failure_;
    EXPECT_LT(p50, absl::Milliseconds(250)) << name_;
    EXPECT_LT(max, absl::Seconds(5)) << name_;
  }

 private:
  void Loop() {
    while (!stop_.load()) {
      const absl::Time sent = absl::Now();
      HttpResult r = herald_->Notify(SpecNotifyBody({DeviceJson(
          "org.unifiedpush.app", fake_->base_url() + absl::StrCat("/up/steady-", Serial()))}));
      latencies_.push_back(absl::Now() - sent);
      if (r.status != 200 || r.body != R"({"rejected":[]})") {
        if (failed_++ == 0) first_failure_ = absl::StrCat(r.status, " ", r.body);
      }
      ++answered_;
    }
  }

  // Unique across the clients of one test binary: the push memory would
  // answer a repeated pushkey without a push.
  static int Serial() {
    static std::atomic<int> next{0};
    return next++;
  }

  Herald* herald_;
  FakeProvider* fake_;
  std::string name_;
  absl::Time start_ = absl::Now();
  std::atomic<bool> stop_{false};
  std::atomic<int> answered_{0};
  int failed_ = 0;                         // the loop's, read after join
  std::string first_failure_;              // likewise
  std::vector<absl::Duration> latencies_;  // likewise
  std::thread thread_;
};

class BridgeHttpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fake_ = new FakeProvider();
    herald_ = new Herald(absl::StrCat("  \"org.unifiedpush.*\":\n    type: unifiedpush\n"
                                      "    allow_private_addresses: true\n"),
                         "", "  max_body_bytes: 4096\n");
  }
  static void TearDownTestSuite() {
    delete herald_;
    delete fake_;
  }
  void SetUp() override { fake_->Reset(); }

  static void ExpectError(const HttpResult& r, long status, const std::string& errcode,
                          const std::string& message_part = "") {
    EXPECT_EQ(r.status, status) << r.body;
    rapidjson::Document doc = r.Json();
    ASSERT_TRUE(doc.IsObject()) << r.body;
    ASSERT_TRUE(doc.HasMember("errcode") && doc["errcode"].IsString()) << r.body;
    EXPECT_EQ(std::string(doc["errcode"].GetString()), errcode) << r.body;
    ASSERT_TRUE(doc.HasMember("error") && doc["error"].IsString()) << r.body;
    EXPECT_NE(std::string(doc["error"].GetString()).find(message_part), std::string::npos)
        << r.body;
    EXPECT_EQ(r.headers.at("content-type"), "application/json");
  }

  static int Port() {
    const std::string url = herald_->url("");
    return std::stoi(url.substr(url.rfind(':') + 1));
  }

  static FakeProvider* fake_;
  static Herald* herald_;
};

FakeProvider* BridgeHttpTest::fake_ = nullptr;
Herald* BridgeHttpTest::herald_ = nullptr;

TEST_F(BridgeHttpTest, NotJson) {
  ExpectError(herald_->Notify("{not json"), 400, "M_NOT_JSON");
  ExpectError(herald_->Notify(""), 400, "M_NOT_JSON");
  ExpectError(herald_->Notify(std::string("{\"notification\":\"\xff\xfe\"}")), 400, "M_NOT_JSON");
}

TEST_F(BridgeHttpTest, BadJsonNamesTheField) {
  ExpectError(herald_->Notify("[]"), 400, "M_BAD_JSON");
  ExpectError(herald_->Notify("{}"), 400, "M_BAD_JSON", "notification");
  ExpectError(herald_->Notify(R"({"notification":{}})"), 400, "M_BAD_JSON", "notification.devices");
  ExpectError(herald_->Notify(R"({"notification":{"devices":[]}})"), 400, "M_BAD_JSON",
              "notification.devices");
  ExpectError(herald_->Notify(R"({"notification":{"devices":[{"app_id":"a"}]}})"), 400,
              "M_BAD_JSON", "notification.devices[0].pushkey");
  // A device the dispatcher would push to, were the notification accepted.
  const std::string device = absl::StrCat(R"({"app_id":"org.unifiedpush.a","pushkey":")",
                                          fake_->base_url(), R"(/up/bad")");
  ExpectError(herald_->Notify(absl::StrCat(R"({"notification":{"devices":[)", device,
                                           R"(,"pushkey_ts":"x"}]}})")),
              400, "M_BAD_JSON", "notification.devices[0].pushkey_ts");
  ExpectError(herald_->Notify(
                  absl::StrCat(R"({"notification":{"prio":"urgent","devices":[)", device, "}]}}")),
              400, "M_BAD_JSON", "notification.prio");
  ExpectError(herald_->Notify(absl::StrCat(
                  R"({"notification":{"counts":{"unread":"2"},"devices":[)", device, "}]}}")),
              400, "M_BAD_JSON", "notification.counts.unread");
  // Nothing was sent for any of these.
  EXPECT_EQ(fake_->Requests().Size(), 0u);
}

TEST_F(BridgeHttpTest, TooLarge) {
  std::string big = absl::StrCat(R"({"notification":{"content":{"body":")", std::string(5000, 'x'),
                                 R"("},"devices":[{"app_id":"a","pushkey":"k"}]}})");
  ExpectError(herald_->Notify(big), 413, "M_TOO_LARGE");
  // The bridge keeps serving.
  EXPECT_EQ(HttpCall("GET", herald_->url("/health")).status, 200);
}

TEST_F(BridgeHttpTest, DiscoveryAndMethods) {
  HttpResult get = HttpCall("GET", herald_->notify_url());
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, R"({"unifiedpush":{"gateway":"matrix"}})");
  HttpResult put = HttpCall("PUT", herald_->notify_url(), "{}");
  ExpectError(put, 405, "M_UNRECOGNIZED");
  EXPECT_EQ(put.headers["allow"], "GET, POST");
  ExpectError(HttpCall("DELETE", herald_->notify_url()), 405, "M_UNRECOGNIZED");
}

TEST_F(BridgeHttpTest, UnknownPath) {
  ExpectError(HttpCall("GET", herald_->url("/_matrix/push/v2/notify")), 404, "M_UNRECOGNIZED");
  ExpectError(HttpCall("POST", herald_->url("/"), "{}"), 404, "M_UNRECOGNIZED");
}

TEST_F(BridgeHttpTest, Health) {
  HttpResult r = HttpCall("GET", herald_->url("/health"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"ok"})");
}

// The process_* series every Prometheus client library exports, with sane values.
void ExpectProcessMetrics(const std::string& text) {
  EXPECT_GE(MetricValue(text, "process_cpu_seconds_total"), 0) << text;
  EXPECT_GT(MetricValue(text, "process_resident_memory_bytes"), 1 << 20) << text;
  const double open_fds = MetricValue(text, "process_open_fds");
  EXPECT_GT(open_fds, 3) << text;
  EXPECT_GE(MetricValue(text, "process_max_fds"), open_fds) << text;
  const double now = absl::ToUnixSeconds(absl::Now());
  const double start = MetricValue(text, "process_start_time_seconds");
  EXPECT_GT(start, now - 86400) << text;
  EXPECT_LE(start, now + 1) << text;
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE process_open_fds gauge\n"), std::string::npos);
}

TEST(MetricsTest, BothServicesExposePrometheusMetrics) {
  FakeProvider fake;
  // The bridge's metrics on a listener of their own (port 0: any free port).
  Herald herald(
      "  \"org.unifiedpush.*\":\n    type: unifiedpush\n    allow_private_addresses: true\n",
      "  metrics_listen: 127.0.0.1:0\n",
      "metrics:\n  prometheus: {enabled: true, address: 127.0.0.1, port: 0}\n");
  ASSERT_GT(herald.bridge_metrics_port(), 0);
  fake.SetRules(R"([{"path":"/up/gone","status":410}])");
  std::string body = absl::StrCat(
      R"({"notification":{"event_id":"$m","devices":[{"app_id":"org.unifiedpush.x","pushkey":)",
      JsonString(fake.base_url() + "/up/ok"), R"(},{"app_id":"org.unifiedpush.x","pushkey":)",
      JsonString(fake.base_url() + "/up/gone"), "}]}}");
  ASSERT_EQ(herald.Notify(body).status, 200);
  ASSERT_EQ(herald.Notify("{bad").status, 400);
  // The notify port is public: no metrics there unless metrics.prometheus
  // names it.
  HttpResult on_notify_port = HttpCall("GET", herald.url("/metrics"));
  EXPECT_EQ(on_notify_port.status, 404) << on_notify_port.body;
  rapidjson::Document error = on_notify_port.Json();
  ASSERT_TRUE(error.IsObject() && error.HasMember("errcode") && error["errcode"].IsString())
      << on_notify_port.body;
  EXPECT_EQ(std::string(error["errcode"].GetString()), "M_UNRECOGNIZED");
  ASSERT_EQ(HttpCall("GET", herald.url("/health")).status, 200);

  HttpResult bridge =
      HttpCall("GET", absl::StrCat("http://127.0.0.1:", herald.bridge_metrics_port(), "/metrics"));
  EXPECT_EQ(bridge.status, 200);
  EXPECT_EQ(bridge.headers["content-type"], "text/plain; version=0.0.4");
  // Notify answers only: not /health's 200, not the 404 for /metrics.
  EXPECT_EQ(MetricValue(bridge.body, "herald_http_responses_total{code=\"200\"}"), 1)
      << bridge.body;
  EXPECT_EQ(MetricValue(bridge.body, "herald_http_responses_total{code=\"400\"}"), 1);
  EXPECT_EQ(MetricValue(bridge.body, "herald_http_responses_total{code=\"404\"}"), -1);
  // The 400 was answered before anything was dispatched: not timed.
  EXPECT_EQ(MetricValue(bridge.body, "herald_notify_duration_seconds_count{code=\"200\"}"), 1);
  EXPECT_EQ(MetricValue(bridge.body, "herald_notify_duration_seconds_count{code=\"400\"}"), -1);
  EXPECT_EQ(MetricValue(bridge.body, "herald_notify_in_flight"), 0);
  ExpectProcessMetrics(bridge.body);

  ASSERT_GT(herald.dispatcher_metrics_port(), 0);
  HttpResult disp = HttpCall(
      "GET", absl::StrCat("http://127.0.0.1:", herald.dispatcher_metrics_port(), "/metrics"));
  EXPECT_EQ(disp.status, 200);
  const std::string app = "app=\"org.unifiedpush.*\"";
  EXPECT_EQ(
      MetricValue(disp.body, absl::StrCat("herald_pushes_total{", app, ",outcome=\"delivered\"}")),
      1)
      << disp.body;
  EXPECT_EQ(
      MetricValue(disp.body, absl::StrCat("herald_pushes_total{", app, ",outcome=\"rejected\"}")),
      1);
  EXPECT_EQ(MetricValue(disp.body, absl::StrCat("herald_push_attempts_total{", app, "}")), 2);
  EXPECT_EQ(MetricValue(disp.body, "herald_dispatch_notifications_total"), 1);
  // What the distributor answered, measured by the HTTP client: one 200,
  // one 410, both timed, none still waiting.
  EXPECT_EQ(MetricValue(disp.body,
                        absl::StrCat("herald_upstream_responses_total{", app, ",code=\"200\"}")),
            1);
  EXPECT_EQ(MetricValue(disp.body,
                        absl::StrCat("herald_upstream_responses_total{", app, ",code=\"410\"}")),
            1);
  EXPECT_EQ(MetricValue(disp.body,
                        absl::StrCat("herald_upstream_responses_total{", app, ",code=\"error\"}")),
            -1);
  EXPECT_EQ(MetricValue(disp.body,
                        absl::StrCat("herald_upstream_request_duration_seconds_count{", app, "}")),
            2);
  EXPECT_EQ(MetricValue(disp.body, absl::StrCat("herald_upstream_request_duration_seconds_bucket{",
                                                app, ",le=\"+Inf\"}")),
            2);
  EXPECT_EQ(MetricValue(disp.body, absl::StrCat("herald_upstream_requests_in_flight{", app, "}")),
            0);
  EXPECT_NE(disp.body.find("# TYPE herald_upstream_request_duration_seconds histogram\n"),
            std::string::npos);
  EXPECT_NE(disp.body.find("# TYPE herald_upstream_responses_total counter\n"), std::string::npos);
  EXPECT_NE(disp.body.find("# TYPE herald_upstream_requests_in_flight gauge\n"), std::string::npos);
  ExpectProcessMetrics(disp.body);
  // No pushkey in the metrics.
  EXPECT_EQ(disp.body.find("/up/ok"), std::string::npos);
}

TEST_F(BridgeHttpTest, SynapseBadgeOnlyUpdateIsAccepted) {
  std::string endpoint = fake_->base_url() + "/up/badge";
  HttpResult r = herald_->Notify(
      absl::StrCat(R"({"notification":{"id":"","type":null,"sender":"","counts":{"unread":0},)",
                   R"("devices":[{"app_id":"org.unifiedpush.app","pushkey":)", JsonString(endpoint),
                   R"(,"pushkey_ts":1700000000,"data":{}}]}})"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"rejected":[]})");
  rapidjson::Document reqs = fake_->Requests(1);
  ASSERT_EQ(reqs.Size(), 1u);
  EXPECT_EQ(std::string(reqs[0]["body"].GetString()),
            R"({"notification":{"sender":"","prio":"high","counts":{"unread":0}}})");
}

TEST_F(BridgeHttpTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  std::string got =
      RawExchange(Port(),
                  "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
                  "GET /_matrix/push/v1/notify HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(got.find(R"({"status":"ok"})"), std::string::npos) << got;
  EXPECT_NE(got.find(R"({"unifiedpush":{"gateway":"matrix"}})"), std::string::npos) << got;
}

TEST_F(BridgeHttpTest, FiftyPipelinedRequestsAreAllAnsweredInOrder) {
  SteadyClient steady(herald_, fake_, "50 pipelined requests");
  std::string requests;
  for (int i = 0; i < 49; ++i) {
    requests += i % 2 == 0 ? "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
                           : "GET /_matrix/push/v1/notify HTTP/1.1\r\nHost: x\r\n\r\n";
  }
  requests += "GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  const std::string got = RawExchange(Port(), requests);
  EXPECT_EQ(Occurrences(got, "HTTP/1.1 200 OK\r\n"), 49u) << got.substr(0, 500);
  EXPECT_EQ(Occurrences(got, R"({"status":"ok"})"), 25u);
  EXPECT_EQ(Occurrences(got, R"({"unifiedpush":{"gateway":"matrix"}})"), 24u);
  // In order: the last answer is the 404, after every 200.
  EXPECT_GT(got.find("HTTP/1.1 404 Not Found"), got.rfind("HTTP/1.1 200 OK"));
  steady.Finish();
}

TEST_F(BridgeHttpTest, OversizeHeadersAre431) {
  SteadyClient steady(herald_, fake_, "oversize headers");
  const std::string got =
      RawExchange(Port(), absl::StrCat("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ",
                                       std::string(64 * 1024, 'a'), "\r\n\r\n"));
  // 431, or only the close when the reset for the unread rest overtakes it.
  auto is_431_or_closed = [](const std::string& answer) {
    return answer.empty() || answer.find("HTTP/1.1 431 Request Header Fields Too Large\r\n") == 0;
  };
  EXPECT_TRUE(is_431_or_closed(got)) << got.substr(0, 200);
  std::string many = "GET /health HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 10000; ++i) absl::StrAppend(&many, "X-", i, ": y\r\n");
  const std::string got_many = RawExchange(Port(), many + "\r\n");
  EXPECT_TRUE(is_431_or_closed(got_many)) << got_many.substr(0, 200);
  EXPECT_EQ(HttpCall("GET", herald_->url("/health")).status, 200);  // still serving
  steady.Finish();
}

// Reads from `fd` until `needle` has arrived, the peer closes, or 3 s pass.
std::string ReadUntil(int fd, const std::string& needle) {
  timeval wait{0, 100000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait));
  std::string got;
  char buf[4096];
  const absl::Time until = absl::Now() + absl::Seconds(3);
  while (got.find(needle) == std::string::npos && absl::Now() < until) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n == 0) break;
    if (n > 0) got.append(buf, n);
  }
  return got;
}

TEST_F(BridgeHttpTest, ExpectContinueChunkedAndHttp10BodiesArePushed) {
  SteadyClient steady(herald_, fake_, "100-continue, chunked and HTTP/1.0 bodies");
  auto body = [this](const std::string& path) {
    return SpecNotifyBody({DeviceJson("org.unifiedpush.app", fake_->base_url() + path)});
  };
  // Expect: 100-continue: the body is sent only after the interim answer.
  const std::string waiting = body("/up/continue");
  const int fd = ConnectTo(Port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, absl::StrCat("POST /_matrix/push/v1/notify HTTP/1.1\r\nHost: x\r\n"
                                       "Expect: 100-continue\r\nContent-Length: ",
                                       waiting.size(), "\r\n\r\n")));
  const std::string interim = ReadUntil(fd, "\r\n\r\n");
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(SendAll(fd, waiting));
  const std::string final_answer = ReadUntil(fd, R"({"rejected":[]})");
  close(fd);
  EXPECT_EQ(final_answer.find("HTTP/1.1 200 OK\r\n"), 0u) << final_answer;
  EXPECT_NE(final_answer.find(R"({"rejected":[]})"), std::string::npos) << final_answer;
  // A body larger than http.max_body_bytes is refused before any 100.
  const std::string refused =
      RawExchange(Port(),
                  "POST /_matrix/push/v1/notify HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                  "Content-Length: 5000\r\n\r\n");
  EXPECT_EQ(refused.find("HTTP/1.1 413 Payload Too Large\r\n"), 0u) << refused;
  // Chunked, in three chunks of which one arrives late.
  const std::string chunked_body = body("/up/chunked");
  const size_t third = chunked_body.size() / 3;
  auto chunk = [](absl::string_view part) {
    return absl::StrCat(absl::Hex(part.size()), "\r\n", part, "\r\n");
  };
  const int cfd = ConnectTo(Port());
  ASSERT_GE(cfd, 0);
  ASSERT_TRUE(
      SendAll(cfd, absl::StrCat("POST /_matrix/push/v1/notify HTTP/1.1\r\nHost: x\r\n"
                                "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
                                chunk(absl::string_view(chunked_body).substr(0, third)),
                                chunk(absl::string_view(chunked_body).substr(third, third)))));
  absl::SleepFor(absl::Milliseconds(100));  // the rest comes in a later read
  ASSERT_TRUE(SendAll(
      cfd, absl::StrCat(chunk(absl::string_view(chunked_body).substr(2 * third)), "0\r\n\r\n")));
  const std::string chunked = ReadUntil(cfd, R"({"rejected":[]})");
  close(cfd);
  EXPECT_EQ(chunked.find("HTTP/1.1 200 OK\r\n"), 0u) << chunked;
  EXPECT_NE(chunked.find(R"({"rejected":[]})"), std::string::npos) << chunked;
  // HTTP/1.0 with a Content-Length: answered in 1.0, then closed.
  const std::string old_body = body("/up/http10");
  const std::string old =
      RawExchange(Port(), absl::StrCat("POST /_matrix/push/v1/notify HTTP/1.0\r\nContent-Length: ",
                                       old_body.size(), "\r\n\r\n", old_body));
  EXPECT_EQ(old.find("HTTP/1.0 200 OK\r\n"), 0u) << old;
  EXPECT_NE(old.find(R"({"rejected":[]})"), std::string::npos) << old;
  // The three were pushed, each once (each was answered after its push).
  rapidjson::Document reqs = fake_->Requests();
  ASSERT_TRUE(reqs.IsArray());
  std::multiset<std::string> paths;
  for (const auto& r : reqs.GetArray()) {
    const std::string path = r["path"].GetString();
    if (path.find("/up/steady-") != 0) paths.insert(path);
  }
  EXPECT_EQ(paths, (std::multiset<std::string>{"/up/chunked", "/up/continue", "/up/http10"}));
  steady.Finish();
}

TEST_F(BridgeHttpTest, HeadAnswersCarryNoBody) {
  // A body after a HEAD answer would be read as the start of the next one.
  std::string got = RawExchange(Port(),
                                "HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n"
                                "HEAD /_matrix/push/v1/notify HTTP/1.1\r\nHost: x\r\n\r\n"
                                "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const size_t first = got.find("HTTP/1.1 200 OK\r\n");
  const size_t second = got.find("HTTP/1.1 405 Method Not Allowed\r\n");
  const size_t third = got.find("HTTP/1.1 200 OK\r\n", first + 1);
  ASSERT_NE(first, std::string::npos) << got;
  ASSERT_NE(second, std::string::npos) << got;
  ASSERT_NE(third, std::string::npos) << got;
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
  // The only body is the GET's; the HEAD answers' headers say what a GET gets.
  EXPECT_EQ(Occurrences(got, R"({"status":"ok"})"), 1u) << got;
  EXPECT_EQ(got.find("M_UNRECOGNIZED"), std::string::npos) << got;
  EXPECT_EQ(got.substr(third).find("HTTP/1.1"), 0u);
  EXPECT_NE(got.substr(0, second).find("Content-Length: 15\r\n"), std::string::npos) << got;
  EXPECT_EQ(got.substr(first, second - first).find("\r\n\r\n") + 4, second - first) << got;
}

TEST_F(BridgeHttpTest, AbsoluteFormTargetsAndTheHostHeader) {
  // RFC 9112: the absolute form is accepted; HTTP/1.1 without Host is 400.
  std::string absolute =
      RawExchange(Port(),
                  "GET http://gateway.example.org/health HTTP/1.1\r\nHost: gateway.example.org\r\n"
                  "Connection: close\r\n\r\n");
  EXPECT_EQ(absolute.find("HTTP/1.1 200 OK\r\n"), 0u) << absolute;
  EXPECT_NE(absolute.find(R"({"status":"ok"})"), std::string::npos) << absolute;
  // A '/' in the query is not the path's start.
  std::string query = RawExchange(
      Port(), "GET http://h?x=/health HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(query.find("HTTP/1.1 404 Not Found\r\n"), 0u) << query;
  std::string bare =
      RawExchange(Port(), "GET http://h HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(bare.find("HTTP/1.1 404 Not Found\r\n"), 0u) << bare;  // "/" is no path of ours
  std::string no_host = RawExchange(Port(), "GET /health HTTP/1.1\r\n\r\n");
  EXPECT_EQ(no_host.find("HTTP/1.1 400 Bad Request\r\n"), 0u) << no_host;
  EXPECT_NE(no_host.find("without Host"), std::string::npos) << no_host;
  // HTTP/1.0 has no Host requirement.
  std::string old = RawExchange(Port(), "GET /health HTTP/1.0\r\n\r\n");
  EXPECT_EQ(old.find("HTTP/1.0 200 OK\r\n"), 0u) << old;
}

TEST_F(BridgeHttpTest, LoneSurrogatesAreNotJsonAndHurtNobodyElse) {
  // Such a string used to reach the dispatcher as a protobuf message it
  // could not parse, ending the stream every other request was on.
  std::atomic<int> good_failures{0};
  std::vector<std::thread> steady;
  steady.reserve(4);
  for (int t = 0; t < 4; ++t) {
    steady.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        HttpResult r = herald_->Notify(SpecNotifyBody({DeviceJson(
            "org.unifiedpush.app", fake_->base_url() + absl::StrCat("/up/steady-", t, "-", i))}));
        if (r.status != 200) ++good_failures;
      }
    });
  }
  for (const char* bad :
       {R"("room_id":"\udc00")", R"("content":{"body":"\udfff"})", R"("sender":"a\udc80b")"}) {
    for (int i = 0; i < 7; ++i) {
      ExpectError(herald_->Notify(absl::StrCat(
                      R"({"notification":{)", bad, R"(,"devices":[)",
                      DeviceJson("org.unifiedpush.app", fake_->base_url() + "/up/bad"), "]}}")),
                  400, "M_NOT_JSON", "lone surrogate");
    }
  }
  ExpectError(
      herald_->Notify(
          R"({"notification":{"devices":[{"app_id":"org.unifiedpush.\udc00","pushkey":"k"}]}})"),
      400, "M_NOT_JSON", "lone surrogate");
  for (std::thread& t : steady) t.join();
  EXPECT_EQ(good_failures.load(), 0);
}

TEST_F(BridgeHttpTest, GarbageOnTheSocketDoesNotHurt) {
  const std::string inputs[] = {
      std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),  // a TLS hello
      "GARBAGE\r\n\r\n",
      "POST /_matrix/push/v1/notify HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
      "POST /_matrix/push/v1/notify HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      std::string(20000, 'A') + "\r\n\r\n",
  };
  for (const std::string& input : inputs) RawExchange(Port(), input);
  EXPECT_TRUE(herald_->bridge().Running());
  EXPECT_EQ(HttpCall("GET", herald_->url("/health")).status, 200);
}

// Sends `head` at once, then `trickle` one byte every 100 ms, until the
// bridge closes the connection or 5 s pass. Returns how long it stayed open.
absl::Duration TrickleUntilClosed(int port, const std::string& head, const std::string& trickle) {
  const absl::Time start = absl::Now();
  const int fd = ConnectTo(port);
  if (fd < 0) return absl::ZeroDuration();
  ssize_t ignored = send(fd, head.data(), head.size(), MSG_NOSIGNAL);
  size_t next = 0;
  while (absl::Now() - start < absl::Seconds(5)) {
    char c;
    const ssize_t got = recv(fd, &c, 1, MSG_DONTWAIT);
    if (got == 0) break;  // closed by the bridge
    if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK) break;
    ignored = send(fd, trickle.data() + next % trickle.size(), 1, MSG_NOSIGNAL);
    ++next;
    absl::SleepFor(absl::Milliseconds(100));
  }
  (void)ignored;
  close(fd);
  return absl::Now() - start;
}

TEST(HostileClientTest, SlowHeadersAndBodiesAreCutWhileOthersAreServed) {
  FakeProvider fake;
  Herald herald(
      "  \"org.unifiedpush.*\":\n    type: unifiedpush\n    allow_private_addresses: true\n", "",
      "  header_timeout: 1\n  body_timeout: 1\n");
  const std::string url = herald.url("");
  const int port = std::stoi(url.substr(url.rfind(':') + 1));
  SteadyClient steady(&herald, &fake, "slow headers and a slow body");
  // Headers a byte at a time: closed after the header timeout (1 s here),
  // not after the 5 s this client would go on for.
  const absl::Duration slow_headers = TrickleUntilClosed(
      port, "POST /_matrix/push/v1/notify HTTP/1.1\r\nHost: x\r\n", "X-Slow: aaaaaaaaaaaaaa\r\n");
  EXPECT_LT(slow_headers, absl::Seconds(4));
  EXPECT_GE(slow_headers, absl::Milliseconds(900));
  // A body a byte at a time: closed after the body timeout.
  const absl::Duration slow_body = TrickleUntilClosed(
      port, "POST /_matrix/push/v1/notify HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n",
      "{");
  EXPECT_LT(slow_body, absl::Seconds(4));
  steady.Finish();
  // An idle keep-alive connection is not a slow request: it waits longer.
  const int fd = ConnectTo(port);
  ASSERT_GE(fd, 0);
  absl::SleepFor(absl::Milliseconds(1500));  // longer than both timeouts
  const std::string req = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  std::string got;
  char buf[1024];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) got.append(buf, n);
  close(fd);
  EXPECT_NE(got.find(R"({"status":"ok"})"), std::string::npos) << got;
}

TEST(HostileClientTest, AtTheConnectionLimitTheLongestIdleMakesRoom) {
  FakeProvider fake;
  Herald herald(
      "  \"org.unifiedpush.*\":\n    type: unifiedpush\n    allow_private_addresses: true\n", "",
      "  max_connections: 3\n"
      "metrics:\n  prometheus: {enabled: true, address: 127.0.0.1, port: 0}\n");
  const std::string url = herald.url("");
  const int port = std::stoi(url.substr(url.rfind(':') + 1));
  const std::string metrics_url =
      absl::StrCat("http://127.0.0.1:", herald.bridge_metrics_port(), "/metrics");
  auto metric = [&](const std::string& series) {
    return MetricValue(HttpCall("GET", metrics_url).body, series);
  };
  // Waits until the bridge holds `n` connections.
  auto await_open = [&](double n) {
    for (int i = 0; i < 500 && metric("herald_http_connections") != n; ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    return metric("herald_http_connections");
  };
  const std::string ping = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  auto open_served = [&] {
    const int fd = ConnectTo(port);
    EXPECT_GE(fd, 0);
    // Answered: the bridge has taken it, and it waits idle for the next.
    EXPECT_TRUE(SendAll(fd, ping));
    EXPECT_NE(ReadUntil(fd, R"({"status":"ok"})").find(R"({"status":"ok"})"), std::string::npos);
    return fd;
  };
  std::vector<int> idle;
  idle.reserve(3);
  for (int i = 0; i < 3; ++i) idle.push_back(open_served());
  // All three back to waiting for their next request.
  for (int i = 0; i < 500 && metric("herald_http_connections_idle") != 3; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(metric("herald_http_connections_idle"), 3);
  // A client holding every connection idle does not keep others out: a
  // newcomer costs it its longest-idle connection.
  SteadyClient steady(&herald, &fake, "3 idle connections at max_connections 3");
  steady.Finish();
  char buf[512];
  timeval two_seconds{2, 0};
  // One of them was closed by the bridge (an end, or a reset; not a time-out).
  int closed = 0;
  for (int fd : idle) {
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &two_seconds, sizeof(two_seconds));
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    closed += n == 0 || (n < 0 && errno == ECONNRESET);
    if (closed > 0) break;
  }
  EXPECT_GE(closed, 1);
  EXPECT_NE(herald.bridge().Log().find("closing the longest idle to take new ones"),
            std::string::npos);
  EXPECT_GE(metric(R"(herald_http_connections_at_limit_total{action="evicted_idle"})"), 1);
  for (int fd : idle) close(fd);
  ASSERT_EQ(await_open(0), 0);
  // Connections in the middle of a request are not idle: with three of
  // those, a newcomer is refused (closed unanswered) and they are kept.
  std::vector<int> busy;
  for (int i = 0; i < 3; ++i) {
    busy.push_back(ConnectTo(port));
    ASSERT_TRUE(SendAll(busy.back(), "POST /_matrix/push/v1/notify HTTP/1.1\r\nHost: x\r\n"));
  }
  ASSERT_EQ(await_open(3), 3);
  // Each is busy once the bridge has read its first bytes.
  for (int i = 0; i < 500 && metric("herald_http_connections_idle") != 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(metric("herald_http_connections_idle"), 0);
  const int extra = ConnectTo(port);
  setsockopt(extra, SOL_SOCKET, SO_RCVTIMEO, &two_seconds, sizeof(two_seconds));
  SendAll(extra, ping);
  const ssize_t n = read(extra, buf, sizeof(buf));
  close(extra);
  // Closed unanswered: an end, or a reset for the ping it never read.
  EXPECT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET)) << n;
  EXPECT_GE(metric(R"(herald_http_connections_at_limit_total{action="refused"})"), 1);
  EXPECT_NE(herald.bridge().Log().find("none idle, refusing new ones"), std::string::npos)
      << herald.bridge().Log();
  for (int fd : busy) {
    // Still open: the header timeout (10 s) has not passed.
    EXPECT_EQ(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
    close(fd);
  }
  // Freed slots serve the next client.
  long status = 0;
  for (int i = 0; i < 100 && status != 200; ++i) {
    status = HttpCall("GET", herald.url("/health")).status;
    if (status != 200) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(status, 200);
}

}  // namespace
}  // namespace herald::testing
