// TLS inside Herald. dispatcher.tls: the bridge–dispatcher hop with mutual
// TLS; the bridge, with a certificate from the CA, is served; a caller
// without one, or with one from another CA, or in plaintext, is refused.
// http.tls_cert_file: the bridge's listener over TLS.
#include <string>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"
#include "tests/health/health.grpc.pb.h"

namespace herald::testing {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

std::string TlsYaml(const std::string& cert, const std::string& key, const std::string& ca) {
  return absl::StrCat("  tls:\n    cert_file: ", cert, "\n    key_file: ", key,
                      "\n    ca_file: ", ca, "\n");
}

// `http_extra`: more keys of the http section ("  key: value\n").
std::string Config(int grpc_port, const std::string& tls_yaml, const std::string& http_extra = "") {
  return absl::StrCat("http:\n  bind_addresses: ['127.0.0.1']\n  port: 0\n", http_extra,
                      "dispatcher:\n  listen: 127.0.0.1:", grpc_port,
                      "\n  target: dns:///localhost:", grpc_port, "\n", tls_yaml,
                      "apps:\n  org.unifiedpush.a: {type: unifiedpush, "
                      "allow_private_addresses: true}\n");
}

// A grpc.health.v1 Check over `creds`: OK, or the error gRPC gave.
grpc::Status HealthCheck(int port, const std::shared_ptr<grpc::ChannelCredentials>& creds) {
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  auto channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), creds, args);
  std::unique_ptr<Health::Stub> health = Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  HealthCheckResponse response;
  return health->Check(&context, HealthCheckRequest(), &response);
}

TEST(InternalTlsTest, TheBridgeWithACertificateFromTheCaIsServedOthersAreRefused) {
  const std::string dir = TempDir() + "/mtls";
  ASSERT_EQ(std::system(absl::StrCat("mkdir -p '", dir, "/other'").c_str()), 0);
  TestPki pki = MakeTestPki(dir);
  TestPki other = MakeTestPki(dir + "/other");  // a CA the dispatcher does not know
  const std::string client_cert = dir + "/client.crt", client_key = dir + "/client.key";

  FakeProvider fake;
  const int grpc_port = FreePort();
  WriteFile(dir + "/dispatcher.yaml",
            Config(grpc_port, TlsYaml(pki.server_cert, pki.server_key, pki.ca_cert)));
  WriteFile(dir + "/bridge.yaml", Config(grpc_port, TlsYaml(client_cert, client_key, pki.ca_cert)));
  Process dispatcher, bridge;
  StartService(&dispatcher, "dispatcher", dir + "/dispatcher.yaml", dir);
  const int port = StartService(&bridge, "bridge", dir + "/bridge.yaml", dir);

  // The bridge gets through: a push is delivered.
  ASSERT_TRUE(Eventually([&] {
    return HttpCall("GET", absl::StrCat("http://127.0.0.1:", port, "/ready")).status == 200;
  })) << bridge.Log();
  const std::string body = absl::StrCat(
      R"({"notification":{"event_id":"$tls","devices":[{"app_id":"org.unifiedpush.a","pushkey":)",
      JsonString(fake.base_url() + "/up/ok"), "}]}}");
  HttpResult pushed =
      HttpCall("POST", absl::StrCat("http://127.0.0.1:", port, "/_matrix/push/v1/notify"), body,
               {"Content-Type: application/json"});
  EXPECT_EQ(pushed.status, 200) << pushed.body;
  EXPECT_EQ(pushed.body, R"({"rejected":[]})");
  EXPECT_EQ(fake.Requests(1).Size(), 1u);

  // Another gRPC caller with a certificate from the CA: served too.
  grpc::SslCredentialsOptions good;
  good.pem_root_certs = ReadFile(pki.ca_cert);
  good.pem_cert_chain = ReadFile(client_cert);
  good.pem_private_key = ReadFile(client_key);
  EXPECT_TRUE(HealthCheck(grpc_port, grpc::SslCredentials(good)).ok());

  // Refused: plaintext; TLS without a client certificate; a certificate
  // from another CA.
  EXPECT_EQ(HealthCheck(grpc_port, grpc::InsecureChannelCredentials()).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  grpc::SslCredentialsOptions anonymous;
  anonymous.pem_root_certs = ReadFile(pki.ca_cert);
  EXPECT_EQ(HealthCheck(grpc_port, grpc::SslCredentials(anonymous)).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  grpc::SslCredentialsOptions stranger = good;
  stranger.pem_cert_chain = ReadFile(other.server_cert);
  stranger.pem_private_key = ReadFile(other.server_key);
  EXPECT_EQ(HealthCheck(grpc_port, grpc::SslCredentials(stranger)).error_code(),
            grpc::StatusCode::UNAVAILABLE);

  // A bridge whose certificate the dispatcher does not trust is never
  // ready, and answers notifications 503 (the homeserver retries).
  // (An ipv4: target: its one address is the dispatcher's.)
  std::string stranger_config =
      Config(grpc_port, TlsYaml(other.server_cert, other.server_key, pki.ca_cert));
  stranger_config.replace(stranger_config.find("dns:///localhost:"),
                          std::string("dns:///localhost:").size(), "ipv4:127.0.0.1:");
  WriteFile(dir + "/stranger.yaml", stranger_config);
  Process stranger_bridge;
  const int stranger_port =
      StartService(&stranger_bridge, "bridge", dir + "/stranger.yaml", dir, "stranger");
  // Its handshakes fail (the dispatcher refuses its certificate)...
  ASSERT_TRUE(Eventually([&] {
    return stranger_bridge.Log().find("Handshake failed") != std::string::npos ||
           dispatcher.Log().find("Handshake failed") != std::string::npos;
  })) << stranger_bridge.Log();
  HttpResult refused =
      HttpCall("POST", absl::StrCat("http://127.0.0.1:", stranger_port, "/_matrix/push/v1/notify"),
               body, {"Content-Type: application/json"});
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(HttpCall("GET", absl::StrCat("http://127.0.0.1:", stranger_port, "/ready")).status,
            503);
  EXPECT_EQ(fake.Requests().Size(), 1u);  // nothing more was pushed
  EXPECT_EQ(stranger_bridge.Stop(), 0);
  EXPECT_EQ(bridge.Stop(), 0);
  EXPECT_EQ(dispatcher.Stop(), 0);
}

TEST(InternalTlsTest, ABadTlsFileStopsStartUpWithItsName) {
  const std::string dir = TempDir() + "/mtls-bad";
  ASSERT_EQ(std::system(absl::StrCat("mkdir -p '", dir, "'").c_str()), 0);
  TestPki pki = MakeTestPki(dir);
  // The CA's certificate with the server's key: not its key.
  WriteFile(dir + "/mismatch.yaml",
            Config(FreePort(), TlsYaml(pki.ca_cert, pki.server_key, pki.ca_cert)));
  Process check;
  check.Start({Runfile("dispatcher/herald-dispatcher"), "--config", dir + "/mismatch.yaml",
               "--check-config"},
              dir + "/check.log");
  EXPECT_NE(check.Wait(absl::Seconds(10)), 0);
  EXPECT_NE(check.Log().find(absl::StrCat("dispatcher.tls: ", pki.server_key,
                                          ": not the key of the certificate in ", pki.ca_cert)),
            std::string::npos)
      << check.Log();
  Process bridge;
  bridge.Start({Runfile("bridge/herald-bridge"), "--config", dir + "/mismatch.yaml"},
               dir + "/bridge.log");
  EXPECT_NE(bridge.Wait(absl::Seconds(10)), 0);
  EXPECT_NE(bridge.Log().find("not the key of the certificate"), std::string::npos) << bridge.Log();
}

TEST(BridgeTlsTest, WithACertificateTheListenerSpeaksTlsOnly) {
  const std::string dir = TempDir() + "/bridge-tls";
  ASSERT_EQ(std::system(absl::StrCat("mkdir -p '", dir, "'").c_str()), 0);
  TestPki pki = MakeTestPki(dir);
  FakeProvider fake;
  const int grpc_port = FreePort();
  WriteFile(dir + "/herald.yaml", Config(grpc_port, "",
                                         absl::StrCat("  tls_cert_file: ", pki.server_cert,
                                                      "\n  tls_key_file: ", pki.server_key, "\n")));
  Process dispatcher, bridge;
  StartService(&dispatcher, "dispatcher", dir + "/herald.yaml", dir);
  const int port = StartService(&bridge, "bridge", dir + "/herald.yaml", dir);
  const std::string https = absl::StrCat("https://localhost:", port);

  ASSERT_TRUE(Eventually([&] {
    return HttpCall("GET", https + "/ready", "", {}, absl::Seconds(5), pki.ca_cert).status == 200;
  })) << bridge.Log();
  const std::string body = absl::StrCat(
      R"({"notification":{"event_id":"$https","devices":[{"app_id":"org.unifiedpush.a","pushkey":)",
      JsonString(fake.base_url() + "/up/ok"), "}]}}");
  HttpResult pushed = HttpCall("POST", https + "/_matrix/push/v1/notify", body,
                               {"Content-Type: application/json"}, absl::Seconds(10), pki.ca_cert);
  EXPECT_EQ(pushed.status, 200) << pushed.body << pushed.error;
  EXPECT_EQ(pushed.body, R"({"rejected":[]})");
  HttpResult bad = HttpCall("POST", https + "/_matrix/push/v1/notify", "{bad",
                            {"Content-Type: application/json"}, absl::Seconds(10), pki.ca_cert);
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(fake.Requests(1).Size(), 1u);

  // Plain HTTP on that port gets no HTTP answer, and the bridge goes on.
  const std::string plain =
      RawExchange(port, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(plain.find("HTTP/1.1"), std::string::npos) << plain;
  // A client that does not trust the certificate does not get through.
  HttpResult untrusted = HttpCall("GET", https + "/health", "", {}, absl::Seconds(5));
  EXPECT_EQ(untrusted.status, 0);
  EXPECT_EQ(HttpCall("GET", https + "/health", "", {}, absl::Seconds(5), pki.ca_cert).status, 200);
  EXPECT_EQ(bridge.Stop(), 0);
  EXPECT_EQ(dispatcher.Stop(), 0);
}

}  // namespace
}  // namespace herald::testing
