// The access log and request ids: one line per notify request on the
// bridge, the id from X-Request-Id (else made) echoed in the answer and
// shown in the dispatcher's lines about the same notification; pushkeys
// only as short hashes.
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace herald::testing {
namespace {

class AccessLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestDir("access");
    const int grpc_port = FreePort();
    WriteFile(dir_ + "/herald.yaml",
              absl::StrCat("log:\n  access: {x_forwarded_for: true}\n",
                           "http:\n  bind_addresses: ['127.0.0.1']\n  port: 0\n",
                           "dispatcher:\n  listen: 127.0.0.1:", grpc_port,
                           "\n  target: 127.0.0.1:", grpc_port, "\n",
                           "apps:\n  org.unifiedpush.a: {type: unifiedpush, "
                           "allow_private_addresses: true}\n"));
    StartService(&dispatcher_, "dispatcher", dir_ + "/herald.yaml", dir_);
    port_ = StartService(&bridge_, "bridge", dir_ + "/herald.yaml", dir_);
    fake_.SetRules(R"([{"path":"/up/gone","status":404}])");
  }

  HttpResult Notify(const std::string& body, std::vector<std::string> headers) {
    headers.push_back("Content-Type: application/json");
    return HttpCall("POST", absl::StrCat("http://127.0.0.1:", port_, "/_matrix/push/v1/notify"),
                    body, headers);
  }

  std::string TwoDevices(const std::string& event_id) const {
    return absl::StrCat(R"({"notification":{"event_id":")", event_id, R"(","devices":[)",
                        DeviceJson("org.unifiedpush.a", fake_.base_url() + "/up/ok"), ",",
                        DeviceJson("org.unifiedpush.a", fake_.base_url() + "/up/gone"), "]}}");
  }

  // Waits for `text` in the process's log (lines are written as they happen,
  // the access line right before the answer).
  static bool LogHas(const Process& p, const std::string& text) {
    return Eventually([&] { return absl::StrContains(p.Log(), text); }, absl::Seconds(5));
  }

  FakeProvider fake_;
  std::string dir_;
  Process dispatcher_, bridge_;
  int port_ = 0;
};

TEST_F(AccessLogTest, ARequestIdFromTheHomeserverIsEchoedAndSharedByBothServicesLogs) {
  HttpResult r = Notify(TwoDevices("$given"),
                        {"X-Request-Id: hs-req-42", "X-Forwarded-For: 203.0.113.5, 10.0.0.1"});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(RejectedPushkeys(r), std::vector<std::string>{fake_.base_url() + "/up/gone"});
  EXPECT_EQ(r.headers["x-request-id"], "hs-req-42");
  EXPECT_TRUE(LogHas(bridge_,
                     "access request_id=hs-req-42 client=203.0.113.5 status=200 devices=2 "
                     "delivered=1 rejected=1 dropped=0 other=0 duration_ms="))
      << bridge_.Log();
  EXPECT_TRUE(LogHas(dispatcher_, "[hs-req-42] 2 device(s): 1 delivered, 1 rejected"))
      << dispatcher_.Log();
  // Neither log holds a pushkey in full.
  for (const Process* p : {&bridge_, &dispatcher_}) {
    EXPECT_FALSE(absl::StrContains(p->Log(), "/up/gone")) << p->Log();
    EXPECT_FALSE(absl::StrContains(p->Log(), "/up/ok")) << p->Log();
  }
}

TEST_F(AccessLogTest, WithoutOneTheBridgeMakesAnIdAndUsesItInBothServicesLogs) {
  HttpResult r = Notify(TwoDevices("$made"), {});
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string id = r.headers["x-request-id"];
  ASSERT_EQ(id.size(), 16u) << id;
  // No X-Forwarded-For: the peer's address.
  EXPECT_TRUE(LogHas(
      bridge_, absl::StrCat("access request_id=", id, " client=127.0.0.1 status=200 devices=2")))
      << bridge_.Log();
  EXPECT_TRUE(LogHas(dispatcher_, absl::StrCat("[", id, "] 2 device(s)"))) << dispatcher_.Log();

  // An id unfit for a log line is replaced by one of the bridge's own.
  HttpResult odd = Notify(TwoDevices("$odd"), {"X-Request-Id: has\"quote"});
  ASSERT_EQ(odd.status, 200);
  EXPECT_EQ(odd.headers["x-request-id"].size(), 16u) << odd.headers["x-request-id"];
}

TEST_F(AccessLogTest, RefusedBodiesHaveTheirLineAndIdToo) {
  HttpResult bad = Notify("{bad", {"X-Request-Id: broken-1"});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.headers["x-request-id"], "broken-1");
  EXPECT_TRUE(LogHas(bridge_, "access request_id=broken-1 client=127.0.0.1 status=400 devices=0"))
      << bridge_.Log();
  HttpResult huge = Notify(std::string(600 * 1024, ' '), {"X-Request-Id: huge-1"});
  EXPECT_EQ(huge.status, 413);
  EXPECT_TRUE(LogHas(bridge_, "access request_id=huge-1 client=127.0.0.1 status=413"))
      << bridge_.Log();
  // The same line count as requests: one each.
  HttpResult ok = Notify(TwoDevices("$count"), {"X-Request-Id: counted"});
  ASSERT_EQ(ok.status, 200);
  ASSERT_TRUE(LogHas(bridge_, "access request_id=counted "));
  size_t lines = 0;
  for (size_t at = 0; (at = bridge_.Log().find(" access request_id=", at)) != std::string::npos;
       ++at) {
    ++lines;
  }
  EXPECT_EQ(lines, 3u) << bridge_.Log();
}

}  // namespace
}  // namespace herald::testing
