// Health, readiness and identity: the bridge's /health and /ready, the
// dispatcher's grpc.health.v1.Health, --version and herald_build_info.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <functional>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/version.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/harness/harness.h"
#include "tests/health/health.grpc.pb.h"
#include "tests/health/reflection.grpc.pb.h"

namespace herald::testing {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

TEST(HealthTest, TheBridgeIsReadyOnlyWhileADispatcherConnectionIsUp) {
  const std::string dir = TempDir() + "/ready";
  ASSERT_EQ(std::system(absl::StrCat("mkdir -p '", dir, "'").c_str()), 0);
  const int grpc_port = FreePort();
  const std::string config = dir + "/herald.yaml";
  WriteFile(config, absl::StrCat("http:\n  bind_addresses: ['127.0.0.1']\n  port: 0\n",
                                 "dispatcher:\n  listen: 127.0.0.1:", grpc_port,
                                 "\n  target: dns:///127.0.0.1:", grpc_port, "\n",
                                 "apps:\n  org.unifiedpush.a: {type: unifiedpush}\n"));
  Process bridge;
  const int port = StartService(&bridge, "bridge", config, dir);
  const std::string ready = absl::StrCat("http://127.0.0.1:", port, "/ready");

  // No dispatcher yet: alive, not ready, with a Matrix error.
  EXPECT_EQ(HttpCall("GET", absl::StrCat("http://127.0.0.1:", port, "/health")).status, 200);
  HttpResult not_ready = HttpCall("GET", ready);
  EXPECT_EQ(not_ready.status, 503) << not_ready.body;
  EXPECT_EQ(not_ready.body,
            R"({"errcode":"M_UNKNOWN","error":"no connection to a dispatcher is up"})");
  // HEAD: the same status, no body after the headers.
  const std::string head =
      RawExchange(port, "HEAD /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(head, "HTTP/1.1 503")) << head;
  EXPECT_TRUE(absl::EndsWith(head, "\r\n\r\n")) << head;
  HttpResult post = HttpCall("POST", ready, "{}");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.headers["allow"], "GET, HEAD");

  // A dispatcher comes up behind the running bridge: ready.
  Process dispatcher;
  StartService(&dispatcher, "dispatcher", config, dir);
  const absl::Time up = absl::Now();
  EXPECT_TRUE(Eventually([&] { return HttpCall("GET", ready).status == 200; })) << bridge.Log();
  EXPECT_EQ(HttpCall("GET", ready).body, R"({"status":"ready"})");
  const std::string head_ok =
      RawExchange(port, "HEAD /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(head_ok, "HTTP/1.1 200")) << head_ok;
  EXPECT_TRUE(absl::EndsWith(head_ok, "\r\n\r\n")) << head_ok;
  std::cerr << "ready " << absl::FormatDuration(absl::Now() - up)
            << " after the dispatcher listened\n";

  // It dies: not ready again.
  ASSERT_GT(dispatcher.pid(), 0);
  kill(dispatcher.pid(), SIGKILL);
  dispatcher.Wait(absl::Seconds(5));
  const absl::Time gone = absl::Now();
  EXPECT_TRUE(Eventually([&] { return HttpCall("GET", ready).status == 503; })) << bridge.Log();
  std::cerr << "not ready " << absl::FormatDuration(absl::Now() - gone)
            << " after the dispatcher died\n";
  EXPECT_EQ(bridge.Stop(), 0);
}

TEST(HealthTest, TheDispatcherListsItsServicesByReflection) {
  Herald herald("  org.unifiedpush.a: {type: unifiedpush}\n");
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", herald.dispatcher_port()),
                                     grpc::InsecureChannelCredentials());
  auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  auto stream = reflection->ServerReflectionInfo(&context);
  grpc::reflection::v1alpha::ServerReflectionRequest ask;
  ask.set_list_services("");
  ASSERT_TRUE(stream->Write(ask));
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse answer;
  ASSERT_TRUE(stream->Read(&answer));
  std::set<std::string> names;
  for (const auto& service : answer.list_services_response().service()) {
    names.insert(service.name());
  }
  EXPECT_TRUE(names.count("herald.v1.Dispatcher")) << absl::StrJoin(names, ", ");
  EXPECT_TRUE(names.count("grpc.health.v1.Health")) << absl::StrJoin(names, ", ");
  while (stream->Read(&answer)) {
  }
  EXPECT_TRUE(stream->Finish().ok());
}

TEST(HealthTest, TheDispatcherServesGrpcHealthAndIsNotServingFromTheDrain) {
  Herald herald("  org.unifiedpush.a: {type: unifiedpush}\n");
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", herald.dispatcher_port()),
                                     grpc::InsecureChannelCredentials());
  std::unique_ptr<Health::Stub> health = Health::NewStub(channel);
  for (const char* service : {"", "herald.v1.Dispatcher"}) {
    grpc::ClientContext context;
    HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    grpc::Status status = health->Check(&context, request, &response);
    ASSERT_TRUE(status.ok()) << service << ": " << status.error_message();
    EXPECT_EQ(response.status(), HealthCheckResponse::SERVING) << service;
  }
  {
    grpc::ClientContext context;
    HealthCheckRequest request;
    request.set_service("no.such.Service");
    HealthCheckResponse response;
    EXPECT_EQ(health->Check(&context, request, &response).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }

  // A watcher hears NOT_SERVING as soon as SIGTERM starts the drain.
  grpc::ClientContext watch_context;
  watch_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  HealthCheckRequest all;
  std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> watch =
      health->Watch(&watch_context, all);
  HealthCheckResponse update;
  ASSERT_TRUE(watch->Read(&update));
  EXPECT_EQ(update.status(), HealthCheckResponse::SERVING);
  ASSERT_GT(herald.dispatcher().pid(), 0);
  kill(herald.dispatcher().pid(), SIGTERM);
  bool not_serving = false;
  while (!not_serving && watch->Read(&update)) {
    not_serving = update.status() == HealthCheckResponse::NOT_SERVING;
  }
  EXPECT_TRUE(not_serving) << herald.dispatcher().Log();
  watch_context.TryCancel();
  watch->Finish();
  EXPECT_EQ(herald.dispatcher().Wait(absl::Seconds(15)), 0) << herald.dispatcher().Log();
}

// Whether a new connection to `port` is accepted.
bool CanConnect(int port) {
  const int fd = ConnectTo(port);
  if (fd >= 0) close(fd);
  return fd >= 0;
}

TEST(HealthTest, OnSigtermTheBridgeAnswersWhatItHoldsClosesIdleConnectionsAndExits) {
  FakeProvider fake;
  fake.SetRules(R"([{"path_prefix":"/up/slow","delay_ms":1500}])");
  Herald herald("  org.unifiedpush.a: {type: unifiedpush, allow_private_addresses: true}\n", "",
                "  drain_timeout: 10\n");
  const std::string base = herald.url("");
  const int port = std::stoi(base.substr(base.rfind(':') + 1));

  // A keep-alive connection that has had its answer and waits for more.
  const int idle = ConnectTo(port);
  ASSERT_GE(idle, 0);
  ASSERT_TRUE(SendAll(idle, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  char buf[4096];
  ASSERT_GT(read(idle, buf, sizeof(buf)), 0);
  timeval five{5, 0};
  setsockopt(idle, SOL_SOCKET, SO_RCVTIMEO, &five, sizeof(five));

  // A notification the slow endpoint holds for 1.5 s.
  HttpResult held;
  std::thread slow([&] {
    held = herald.Notify(
        SpecNotifyBody({DeviceJson("org.unifiedpush.a", fake.base_url() + "/up/slow/1")}));
  });
  fake.Requests(1);  // it has reached the endpoint

  const absl::Time sigterm = absl::Now();
  ASSERT_GT(herald.bridge().pid(), 0);
  kill(herald.bridge().pid(), SIGTERM);
  // The idle connection is closed at once (EOF, not the 5 s timeout).
  EXPECT_EQ(read(idle, buf, sizeof(buf)), 0);
  const absl::Duration idle_closed = absl::Now() - sigterm;
  EXPECT_LT(idle_closed, absl::Seconds(3));  // at once, well before its 60 s idle timeout
  close(idle);
  // New connections are refused.
  EXPECT_TRUE(Eventually([&] { return !CanConnect(port); }));
  // What it held is answered, then it exits 0.
  slow.join();
  EXPECT_EQ(held.status, 200) << held.body << held.error;
  EXPECT_EQ(held.body, R"({"rejected":[]})");
  EXPECT_EQ(herald.bridge().Wait(absl::Seconds(10)), 0) << herald.bridge().Log();
  std::cerr << "idle connection closed " << absl::FormatDuration(idle_closed)
            << " after SIGTERM; exited " << absl::FormatDuration(absl::Now() - sigterm)
            << " after it\n";
}

// log.format: json: every line either service writes is one JSON object.
TEST(HealthTest, WithJsonLogsEveryLineOfBothServicesIsAJsonObject) {
  const std::string dir = TempDir() + "/jsonlogs";
  ASSERT_EQ(std::system(absl::StrCat("mkdir -p '", dir, "'").c_str()), 0);
  FakeProvider fake;
  const std::string config = dir + "/herald.yaml";
  auto write_config = [&](int grpc_port) {
    WriteFile(config, absl::StrCat("log:\n  level: debug\n  format: json\n",
                                   "http:\n  bind_addresses: ['127.0.0.1']\n  port: 0\n",
                                   "dispatcher:\n  listen: 127.0.0.1:0\n",
                                   "  target: dns:///127.0.0.1:", grpc_port, "\n",
                                   "apps:\n  org.unifiedpush.a: {type: unifiedpush, ",
                                   "allow_private_addresses: true, junk: 1}\n"));
  };
  write_config(1);
  Process dispatcher;
  write_config(StartService(&dispatcher, "dispatcher", config, dir));
  Process bridge;
  const int port = StartService(&bridge, "bridge", config, dir);
  const std::string notify = absl::StrCat("http://127.0.0.1:", port, "/_matrix/push/v1/notify");
  // A push, a rejected pushkey (a warning with a redacted key) and a bad body.
  fake.SetRules(R"([{"path_prefix":"/up/gone","status":404}])");
  HttpResult ok = HttpCall(
      "POST", notify,
      SpecNotifyBody({DeviceJson("org.unifiedpush.a", fake.base_url() + "/up/fine"),
                      DeviceJson("org.unifiedpush.a", fake.base_url() + "/up/gone/secret")}));
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(HttpCall("POST", notify, "{").status, 400);
  EXPECT_EQ(bridge.Stop(), 0);
  EXPECT_EQ(dispatcher.Stop(), 0);

  for (const Process* p : {&dispatcher, &bridge}) {
    int lines = 0;
    bool warned_junk = false;
    for (absl::string_view line : absl::StrSplit(p->Log(), '\n', absl::SkipEmpty())) {
      ++lines;
      rapidjson::Document doc;
      doc.Parse(line.data(), line.size());
      ASSERT_FALSE(doc.HasParseError()) << p->log_file() << ": " << line;
      ASSERT_TRUE(doc.IsObject()) << line;
      for (const char* key : {"time", "level", "component", "message"}) {
        ASSERT_TRUE(doc.HasMember(key) && doc[key].IsString()) << key << " in " << line;
      }
      EXPECT_FALSE(absl::StrContains(line, "/up/gone/secret")) << line;  // redacted
      warned_junk = warned_junk || absl::StrContains(doc["message"].GetString(), "junk");
    }
    EXPECT_GT(lines, 2) << p->log_file();
    if (p == &dispatcher) {
      EXPECT_TRUE(warned_junk) << p->Log();
    }
  }
}

// $NOTIFY_SOCKET as systemd sets it for Type=notify (an abstract socket
// here: test paths are too long for sun_path), read by the test.
class NotifySocket {
 public:
  NotifySocket() : name_(absl::StrCat("herald-test-notify-", getpid())) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path + 1, name_.data(), name_.size());  // sun_path[0] = 0: abstract
    bind(fd_, reinterpret_cast<sockaddr*>(&addr),
         static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name_.size()));
    setenv("NOTIFY_SOCKET", ("@" + name_).c_str(), 1);  // for the processes started now
  }
  ~NotifySocket() {
    unsetenv("NOTIFY_SOCKET");
    close(fd_);
  }
  // The next message, or "" after 10 s.
  std::string Next() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 10000) != 1) return "";
    char buf[512];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

 private:
  std::string name_;
  int fd_ = -1;
};

TEST(HealthTest, UnderSystemdBothServicesSayReadyReloadingAndStopping) {
  const std::string dir = TempDir() + "/notify";
  ASSERT_EQ(std::system(absl::StrCat("mkdir -p '", dir, "'").c_str()), 0);
  const int grpc_port = FreePort();
  const std::string config = dir + "/herald.yaml";
  WriteFile(config, absl::StrCat("http:\n  bind_addresses: ['127.0.0.1']\n  port: 0\n",
                                 "dispatcher:\n  listen: 127.0.0.1:", grpc_port,
                                 "\n  target: 127.0.0.1:", grpc_port, "\n",
                                 "apps:\n  org.unifiedpush.a: {type: unifiedpush}\n"));
  NotifySocket notify;
  Process dispatcher;
  StartService(&dispatcher, "dispatcher", config, dir);
  EXPECT_EQ(notify.Next(), "READY=1");
  kill(dispatcher.pid(), SIGHUP);  // a reload
  EXPECT_EQ(notify.Next(), "RELOADING=1");
  EXPECT_EQ(notify.Next(), "READY=1");
  Process bridge;
  StartService(&bridge, "bridge", config, dir);
  EXPECT_EQ(notify.Next(), "READY=1");
  kill(bridge.pid(), SIGTERM);
  EXPECT_EQ(notify.Next(), "STOPPING=1");
  EXPECT_EQ(bridge.Wait(absl::Seconds(25)), 0);
  kill(dispatcher.pid(), SIGTERM);
  EXPECT_EQ(notify.Next(), "STOPPING=1");
  EXPECT_EQ(dispatcher.Wait(absl::Seconds(20)), 0);
}

TEST(HealthTest, BothBinariesSayTheirVersion) {
  for (const char* binary : {"bridge/herald-bridge", "dispatcher/herald-dispatcher"}) {
    Process p;
    const std::string log = absl::StrCat(TempDir(), "/version-", getpid(), ".log");
    p.Start({Runfile(binary), "--version"}, log);
    EXPECT_EQ(p.Wait(absl::Seconds(10)), 0) << binary;
    const std::string name = std::string(binary).substr(std::string(binary).find('/') + 1);
    EXPECT_EQ(p.Log(), absl::StrCat(name, " ", kVersion, "\n"));
  }
  Herald herald("  org.unifiedpush.a: {type: unifiedpush}\n", "  metrics_listen: 127.0.0.1:0\n");
  EXPECT_EQ(MetricValue(herald.DispatcherMetrics(),
                        absl::StrCat("herald_build_info{version=\"", kVersion, "\"}")),
            1);
}

}  // namespace
}  // namespace herald::testing
