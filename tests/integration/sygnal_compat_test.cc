// A Sygnal operator's sygnal.yaml (config/sygnal-compat.yaml, every key
// Sygnal documents) starts both services, found through SYGNAL_CONF as
// Sygnal finds it, and every key either works or is named in a warning.
#include <stdlib.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace herald::testing {
namespace {

// The files the compat config names under /etc/sygnal/, made here.
void MakeCredentials(const std::string& dir) {
  MakeP256Key(dir + "/AuthKey_MYKEYID.p8");
  MakeP256Key(dir + "/vapid_private_key.pem");
  TestPki pki = MakeTestPki(dir);
  WriteFile(dir + "/myotherapp.pem", ReadFile(pki.client_cert_and_key));
  const std::string cmd = absl::StrCat(
      "cd '", dir, "' && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 ",
      "-out sa.key 2>/dev/null");
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  WriteFile(dir + "/service_account.json",
            absl::StrCat(R"({"type":"service_account","project_id":"example-project",)",
                         R"("client_email":"sygnal@example-project.iam.gserviceaccount.com",)",
                         R"("private_key":)", JsonString(ReadFile(dir + "/sa.key")), "}"));
}

TEST(SygnalCompatTest, EveryKeyWorksOrIsNamedInAWarning) {
  const std::string dir = TempDir() + "/sygnal";
  ASSERT_EQ(std::system(absl::StrCat("mkdir -p '", dir, "'").c_str()), 0);
  MakeCredentials(dir);
  Tinyproxy proxy;
  FakeProvider distributor;

  // The operator's file with this test's paths, ports and proxy, plus what
  // only Herald has: where the dispatcher listens, and a UnifiedPush app to
  // watch the proxy with.
  const std::string compat = ReadFile(Runfile("config/sygnal-compat.yaml"));
  const std::string config_file = dir + "/sygnal.yaml";
  auto write_config = [&](const std::string& target) {
    WriteFile(
        config_file,
        absl::StrCat(absl::StrReplaceAll(
                         compat, {{"/etc/sygnal/", dir + "/"},
                                  {"port: 5000", "port: 0"},
                                  {"port: 8000", "port: 0"},
                                  {"'http://user:secret@proxy.example.org:8080'", proxy.url()}}),
                     "  org.unifiedpush.test:\n    type: unifiedpush\n",
                     "    allow_private_addresses: true\n",
                     "dispatcher:\n  listen: 127.0.0.1:0\n  target: ", target, "\n"));
  };
  write_config("dns:///127.0.0.1:1");
  setenv("SYGNAL_CONF", config_file.c_str(), 1);  // no --config, as with Sygnal
  Process dispatcher;
  dispatcher.Start(
      {Runfile("dispatcher/herald-dispatcher"), "--ready-file", dir + "/dispatcher.ready"},
      dir + "/dispatcher.log");
  const int grpc_port =
      WaitForReadyFile(dir + "/dispatcher.ready", dispatcher, "dispatcher")["port"].GetInt();
  write_config(absl::StrCat("dns:///127.0.0.1:", grpc_port));
  Process bridge;
  bridge.Start({Runfile("bridge/herald-bridge"), "--ready-file", dir + "/bridge.ready"},
               dir + "/bridge.log");
  rapidjson::Document ready = WaitForReadyFile(dir + "/bridge.ready", bridge, "bridge");
  unsetenv("SYGNAL_CONF");
  const int port = ready["port"].GetInt();
  ASSERT_TRUE(ready.HasMember("metrics_port")) << bridge.Log();
  const int metrics_port = ready["metrics_port"].GetInt();

  // log.setup, metrics.opentracing, metrics.sentry: named, not
  // silently ignored; every other key was read (no "unknown key" warning).
  for (const Process* p : {&dispatcher, &bridge}) {
    const std::string log = p->Log();
    for (const char* key : {"log.setup", "metrics.opentracing", "metrics.sentry"}) {
      EXPECT_NE(log.find(absl::StrCat(key, ": not supported by Herald, ignored")),
                std::string::npos)
          << key << "\n"
          << log;
    }
    EXPECT_EQ(log.find("unknown key"), std::string::npos) << log;
    EXPECT_EQ(log.find(proxy.url()), std::string::npos);  // no credentials in logs
  }

  // http.bind_addresses ['::']: IPv6 and IPv4 both.
  const std::string endpoint = distributor.base_url() + "/up/compat";
  const std::string body = SpecNotifyBody({DeviceJson("org.unifiedpush.test", endpoint)});
  for (const std::string& host : {std::string("127.0.0.1"), std::string("[::1]")}) {
    // A new event each time: the push memory answers a repeat without a push.
    HttpResult r =
        HttpCall("POST", absl::StrCat("http://", host, ":", port, "/_matrix/push/v1/notify"),
                 absl::StrReplaceAll(body, {{"$3957tyerfgewrf384", "$" + host}}),
                 {"Content-Type: application/json"});
    EXPECT_EQ(r.status, 200) << host << " " << r.body << r.error;
    EXPECT_EQ(r.body, R"({"rejected":[]})") << host;
  }
  // proxy: the pushes went through the tunnel.
  EXPECT_EQ(distributor.Requests(2).Size(), 2u);
  EXPECT_GE(proxy.Connects(distributor.base_url().substr(strlen("http://"))), 1);

  // metrics.prometheus: its own listener; /metrics is not on the notify port.
  HttpResult metrics = HttpCall("GET", absl::StrCat("http://127.0.0.1:", metrics_port, "/metrics"));
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(MetricValue(metrics.body, R"(herald_http_responses_total{code="200"})"), 2)
      << metrics.body;
  HttpResult public_metrics = HttpCall("GET", absl::StrCat("http://127.0.0.1:", port, "/metrics"));
  EXPECT_EQ(public_metrics.status, 404);

  bridge.Stop();
  dispatcher.Stop();
}

}  // namespace
}  // namespace herald::testing
