// Provider traffic through an HTTP CONNECT proxy (Sygnal's `proxy`): a real
// proxy (tinyproxy, from tools/setup) on loopback with basic auth, the real
// bridge and dispatcher, and the fake distributor behind the proxy.
#include <stdlib.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace herald::testing {
namespace {

constexpr char kApps[] =
    "  up.loopback:\n"
    "    type: unifiedpush\n"
    "    allow_private_addresses: true\n"
    "  up.strict:\n"
    "    type: unifiedpush\n";

TEST(ProxyTest, ProviderTrafficIsTunnelledAndTheGuardJudgesTheDestination) {
  Tinyproxy proxy;
  FakeProvider fake;
  // APNs over TLS and HTTP/2 inside the tunnel.
  const std::string dir = TempDir();
  TestPki pki = MakeTestPki(dir);
  const std::string apns_key = dir + "/proxy-apns.p8";
  MakeP256Key(apns_key);
  FakeProvider apple(FakeProvider::Options{pki.server_cert, pki.server_key, ""});
  const std::string apps =
      absl::StrCat(kApps, "  com.example.ios:\n    type: apns\n    keyfile: ", apns_key,
                   "\n    key_id: KEYID12345\n    team_id: TEAMID1234\n    topic: com.example\n",
                   "    endpoint: ", apple.base_url(), "\n    ca_file: ", pki.ca_cert, "\n");
  // The bridge's gRPC channel to the dispatcher must ignore these (it used
  // to take https_proxy and fail every notify); the dispatcher uses `proxy`.
  setenv("https_proxy", "http://127.0.0.1:1", 1);
  setenv("http_proxy", "http://127.0.0.1:1", 1);
  setenv("grpc_proxy", "http://127.0.0.1:1", 1);
  Herald herald(apps, "  max_attempts: 2\n  retry_initial_backoff: 0.05\n  deadline: 4\n",
                absl::StrCat("proxy: ", proxy.url(), "\n"));
  unsetenv("https_proxy");
  unsetenv("http_proxy");
  unsetenv("grpc_proxy");
  const std::string fake_host = fake.base_url().substr(strlen("http://"));

  // Through the tunnel to the distributor.
  const std::string ok = fake.base_url() + "/up/through";
  HttpResult r = herald.Notify(SpecNotifyBody({DeviceJson("up.loopback", ok)}));
  EXPECT_EQ(r.status, 200) << r.body << herald.dispatcher().Log();
  EXPECT_EQ(r.body, R"({"rejected":[]})");
  rapidjson::Document reqs = fake.Requests(1);
  ASSERT_EQ(reqs.Size(), 1u);
  EXPECT_EQ(std::string(reqs[0]["path"].GetString()), "/up/through");
  EXPECT_GE(proxy.Connects(fake_host), 1);

  HttpResult ios = herald.Notify(SpecNotifyBody({DeviceJson("com.example.ios", "3q2+7w==")}));
  EXPECT_EQ(ios.status, 200) << ios.body;
  rapidjson::Document apple_reqs = apple.Requests(1);
  ASSERT_EQ(apple_reqs.Size(), 1u);
  EXPECT_EQ(std::string(apple_reqs[0]["path"].GetString()), "/3/device/deadbeef");
  EXPECT_EQ(std::string(apple_reqs[0]["protocol"].GetString()), "HTTP/2");
  EXPECT_GE(proxy.Connects(apple.base_url().substr(strlen("https://"))), 1);

  // A private destination behind the proxy: refused before any tunnel is
  // asked for, once, and rejected as without a proxy.
  const int connects = proxy.Connects(fake_host);
  const std::string priv = fake.base_url() + "/up/private";
  HttpResult p = herald.Notify(SpecNotifyBody({DeviceJson("up.strict", priv)}));
  EXPECT_EQ(p.status, 200) << p.body;
  EXPECT_EQ(RejectedPushkeys(p), std::vector<std::string>{priv});
  EXPECT_EQ(proxy.Connects(fake_host), connects);
  EXPECT_EQ(fake.Stats()["total"].GetInt(), 1);
  EXPECT_NE(herald.dispatcher().Log().find("private address 127.0.0.1"), std::string::npos);

  // A public destination while the proxy itself is on a private address:
  // the proxy's address is not judged, the tunnel is asked for. (What answers
  // beyond it depends on the network this runs on: nothing, or a sandbox's
  // interceptor. Either way the guard let it through.)
  const std::string before = herald.dispatcher().Log();
  herald.Notify(SpecNotifyBody({DeviceJson("up.strict", "http://203.0.113.7:9/up/pub")}));
  EXPECT_GE(proxy.Connects("203.0.113.7:9"), 1);
  const std::string after = herald.dispatcher().Log().substr(before.size());
  EXPECT_EQ(after.find("private address"), std::string::npos) << after;

  // The proxy's credentials never reach a log line.
  EXPECT_EQ(herald.dispatcher().Log().find("s3cret"), std::string::npos);
  EXPECT_NE(herald.dispatcher().Log().find("through the proxy http://***@127.0.0.1:"),
            std::string::npos);
  EXPECT_EQ(herald.bridge().Log().find("s3cret"), std::string::npos);
}

}  // namespace
}  // namespace herald::testing
